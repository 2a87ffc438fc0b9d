// OpenBLAS's own cblas.h (Debian installs it through the alternatives system as
// cblas-openblas.h); it also declares openblas_set_num_threads.
#include <cblas-openblas.h>
