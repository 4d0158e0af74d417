#include "call_site.h"

#include <cstring>

namespace rdm::simt {

bool CallSite::same_as(const CallSite& o) const {
  return line == o.line && column == o.column && (file == o.file || std::strcmp(file, o.file) == 0);
}

std::string CallSite::str() const {
  return std::string(file) + ":" + std::to_string(line) + ":" + std::to_string(column) + " (in " + function + ")";
}

}  // namespace rdm::simt
