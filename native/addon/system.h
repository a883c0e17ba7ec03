// Small OS bindings the daemon needs that Node does not offer: SO_PEERCRED of a Unix socket
// and sd_notify (systemd readiness and watchdog). Synchronous, microseconds each.
#pragma once
#include <napi.h>

namespace sentinel::sys {
// Adds peerCredentials(fd) and sdNotify(state) to `exports`.
void RegisterSystemFunctions(Napi::Env env, Napi::Object exports);
}  // namespace sentinel::sys
