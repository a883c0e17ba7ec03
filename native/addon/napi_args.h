// Argument checks shared by the Node-API bindings (addon.cc, fanotify_binding.cc,
// biometrics_binding.cc, app_binding.cc). Each throws a JavaScript TypeError (wrong type) or
// RangeError (right type, bad value) through node-addon-api's C++ exceptions; nothing else.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

namespace sentinel::addon {

[[noreturn]] inline void throwType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] inline void throwRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

// options.<key>: an array of minN..maxN non-empty paths (at most 4096 bytes, no NUL).
inline std::vector<std::string> pathListOpt(Napi::Env env, Napi::Value v, const char* key, uint32_t minN, uint32_t maxN) {
  const std::string name = std::string("options.") + key;
  if (!v.IsArray()) throwType(env, name + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() < minN || a.Length() > maxN)
    throwRange(env, name + " must hold " + (minN ? std::to_string(minN) + ".." + std::to_string(maxN) : "at most " + std::to_string(maxN)) + " paths");
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) throwType(env, name + " must be an array of strings");
    std::string s = e.As<Napi::String>().Utf8Value();
    if (s.empty() || s.size() > 4096 || s.find('\0') != std::string::npos) throwRange(env, name + ": bad path");
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sentinel::addon
