// Ops of the rdm_simt library only (compiled into _simt, not _C): the performance counters
// of emulated launches and the shared-memory checks they run with. Python: rdm.simt.
#include <torch/library.h>

#include <stdexcept>
#include <string>

#include "simt/instrument.h"

namespace {

// The launches since the last clear, as JSON (see rdm::simt::launch_records_json).
std::string simt_launches(bool clear) { return rdm::simt::launch_records_json(clear); }

// Sets the checks of later launches: a comma list of race, init, or none; "env" follows
// RDM_SIMT_CHECKS again. Returns the previous setting in the same words.
std::string simt_set_checks(const std::string& checks) {
  int bits = -1;
  if (checks != "env") {
    try {
      bits = static_cast<int>(rdm::simt::parse_checks(checks));
    } catch (const std::runtime_error& e) {
      TORCH_CHECK(false, "rdm_simt._simt_set_checks: checks must be 'env' or a comma list of race, init (or none), ",
                  "got '", checks, "': ", e.what());
    }
  }
  const int previous = rdm::simt::set_checks(bits);
  return previous < 0 ? "env" : rdm::simt::checks_str(static_cast<unsigned>(previous));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(rdm_simt, m) {
  m.def("_simt_launches(bool clear) -> str", &simt_launches);
  m.def("_simt_set_checks(str checks) -> str", &simt_set_checks);
}
