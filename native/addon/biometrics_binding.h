// Node-API wrapper of the input collector (native/evdev/) and the keystroke model
// (native/biometrics/keystroke.h). The raw API is declared in src/binding.ts (RawInputCollector,
// RawKeystrokeScorer, decodeInputEvents, enrollKeystrokes); docs/biometrics.md describes it.
#pragma once
#include <napi.h>

namespace sentinel::biobind {
// Adds InputCollector, KeystrokeScorer, decodeInputEvents, enrollKeystrokes and
// biometricsConstants to `exports`. Keeps no static handles (per environment).
void RegisterBiometrics(Napi::Env env, Napi::Object exports);
}  // namespace sentinel::biobind
