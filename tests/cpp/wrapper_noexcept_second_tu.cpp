// A second translation unit of the -fno-exceptions test: the wrapper is all
// inline, so both units link without duplicate symbols.
#ifndef AEP_EDGE_NO_EXCEPTIONS
#error "build with -DAEP_EDGE_NO_EXCEPTIONS -fno-exceptions"
#endif
#include "aep_edge.hpp"

int noexcept_second_tu_interact(const aep_edge::Client &client, const char *request) {
    return static_cast<int>(client.interact(request).status());
}
