// How the daemon turns its [monitor] config table into MonitorOptions (docs/MONITORING.md).
// Header-only so ami_monitor does not depend on the daemon library. Pure; any thread.
#pragma once

#include "headend/config/daemon_config.hpp"
#include "headend/monitor/monitor.hpp"

namespace ami::monitor {

inline MonitorOptions monitor_options_from(const daemon::DaemonConfig& config) {
  MonitorOptions o;
  o.http.host = config.monitor.listen_host;
  o.http.port = config.monitor.listen_port;
  o.api_token = config.monitor.api_token;
  o.api.kpi.utc_offset_minutes = config.monitor.utc_offset_minutes;
  o.api.kpi.deadline_minutes = config.monitor.deadline_minutes;
  o.api.kpi.grace_seconds = config.monitor.grace_seconds;
  o.api.chronic_days = config.monitor.chronic_days;
  o.kpi_refresh = std::chrono::milliseconds{config.monitor.kpi_refresh_ms};
  return o;
}

}  // namespace ami::monitor
