#include "system.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace sentinel::sys {
namespace {

// peerCredentials(fd: number) -> {pid, uid, gid}. Throws Error with errno text on failure.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "peerCredentials(fd): fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    throw Napi::Error::New(env, std::string("getsockopt(SO_PEERCRED): ") + std::strerror(errno));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

// sdNotify(state: string) -> boolean: sends `state` to $NOTIFY_SOCKET (datagram). Returns false
// when not started by systemd (no NOTIFY_SOCKET); throws on a send failure.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "sdNotify(state): state must be a string");
  std::string state = info[0].As<Napi::String>().Utf8Value();
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return Napi::Boolean::New(env, false);
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  size_t n = std::strlen(path);
  if (n >= sizeof(addr.sun_path)) throw Napi::Error::New(env, "NOTIFY_SOCKET path too long");
  std::memcpy(addr.sun_path, path, n);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Napi::Error::New(env, std::string("socket: ") + std::strerror(errno));
  socklen_t alen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + n);
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&addr), alen);
  int err = errno;
  close(fd);
  if (sent < 0) throw Napi::Error::New(env, std::string("sd_notify sendto: ") + std::strerror(err));
  return Napi::Boolean::New(env, true);
}

}  // namespace

void RegisterSystemFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
}

}  // namespace sentinel::sys
