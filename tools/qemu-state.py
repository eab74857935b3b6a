#!/usr/bin/env python3
"""qemu-state.py SOCKET COMMAND... — ask a QEMU human monitor (a unix socket) each
COMMAND and print its answers, each line prefixed with "qemu-state: ".  run-qemu.sh
uses it to record what the emulated CPU was doing when a run times out."""
import re
import socket
import sys

ESCAPES = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]|\r")


def read_prompt(s):
    data = b""
    while not data.endswith(b"(qemu) "):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        data = ESCAPES.sub(b"", data)
    return data


def main():
    if len(sys.argv) < 3:
        print("usage: qemu-state.py SOCKET COMMAND...", file=sys.stderr)
        return 2
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(sys.argv[1])
        read_prompt(s)
        for command in sys.argv[2:]:
            s.sendall(command.encode() + b"\n")
            answer = read_prompt(s).decode(errors="replace")
            for line in answer.splitlines():
                if line.startswith(("(qemu)", "FPR", "XMM", "FCW")) or line.endswith(command):
                    continue            # (the prompt, the FPU, the echo of the command)
                print("qemu-state: " + line)
    except OSError as e:
        print(f"qemu-state: the monitor at {sys.argv[1]} did not answer: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
