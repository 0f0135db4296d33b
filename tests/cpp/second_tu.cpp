// A second translation unit including the header, linked with abi_test.cpp: the
// header must define nothing that two units would both emit (ODR / duplicate symbols).

#include "aep_edge.h"
#include "aep_edge.h" // the include guard makes a second include harmless

#include <memory>
#include <string>

std::string version_from_second_tu() { return aep_edge_version(); }

aep_edge_status closed_status_from_second_tu() { return AEP_EDGE_CLOSED; }

bool second_tu_null_argument_check() {
    aep_edge_client *client = nullptr;
    char *err = nullptr;
    aep_edge_status s = aep_edge_client_new(nullptr, &client, &err);
    std::unique_ptr<char, void (*)(char *)> owned(err, aep_edge_string_free);
    return s == AEP_EDGE_NULL_ARGUMENT && client == nullptr && owned != nullptr;
}
