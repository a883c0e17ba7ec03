// Node-API wrapper of the X11 active-application watcher and app model (native/x11/):
// class AppWatcher and the functions appIdForClass, appModelEnroll, appModelScore, appModelInfo.
// The raw API is declared in src/binding.ts (RawAppWatcher, ...); docs/biometrics.md
// ("Active application (X11)") describes it and docs/privacy.md what crosses this boundary.
#pragma once
#include <napi.h>

namespace sentinel::x11 {
// Adds the AppWatcher class and the app-model functions to `exports`. Keeps no static handles.
void RegisterApp(Napi::Env env, Napi::Object exports);
}  // namespace sentinel::x11
