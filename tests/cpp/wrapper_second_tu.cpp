// A second translation unit including the wrapper: everything in it is inline,
// so linking both must not produce duplicate symbols.
#include "aep_edge.hpp"
#include "aep_edge.hpp"

int second_tu_version_length() { return static_cast<int>(aep_edge::Client::version().size()); }
