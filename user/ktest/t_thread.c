/* thread tests (to be written). */
#include "ktest.h"

KT_TABLE(thread)
