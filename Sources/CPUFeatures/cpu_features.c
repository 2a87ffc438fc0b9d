#include "cpu_features.h"
int vectors_cpu_placeholder(void) { return 0; }
