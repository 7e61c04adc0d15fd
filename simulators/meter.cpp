#include "simulators/meter.hpp"

namespace ami::sim {

Registers SimMeter::exposed_registers_at(UtcMillis t) const {
  auto r = registers_at(t);
  r.forward_wh = dlt645_exposed_wh(r.forward_wh);
  r.reverse_wh = dlt645_exposed_wh(r.reverse_wh);
  for (auto& v : r.forward_tariff_wh) v = dlt645_exposed_wh(v);
  for (auto& v : r.reverse_tariff_wh) v = dlt645_exposed_wh(v);
  return r;
}

}  // namespace ami::sim
