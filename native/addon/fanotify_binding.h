// Node-API wrapper of the fanotify watcher (native/fanotify/watcher.h): class FanotifyWatcher.
// The raw API is declared in src/binding.ts (RawFanotifyWatcher); docs/fanotify.md describes it.
#pragma once
#include <napi.h>

namespace sentinel::fanotify {
// Adds the FanotifyWatcher class to `exports`. Keeps no static handles (per environment).
void RegisterFanotify(Napi::Env env, Napi::Object exports);
}  // namespace sentinel::fanotify
