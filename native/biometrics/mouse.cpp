#include "mouse.h"

#include <algorithm>
#include <cmath>

namespace sentinel {
namespace bio {

const char* const kActionFeatureNames[kActionFeatures] = {
    "type_mm", "type_pc", "type_dd", "duration_s", "chord_px", "path_px",
    "straightness", "mean_speed", "dir_sin", "dir_cos", "v_mean", "v_sd",
    "v_max", "t_vmax_frac", "a_abs_mean", "a_sd", "a_max", "a_min",
    "jerk_abs_mean", "jerk_sd", "turn_abs_mean", "turn_sd", "turn_abs_sum",
    "curv_mean", "curv_sd", "max_dev_ratio", "turn_sign_changes", "hold_s",
    "scroll_ticks", "v_end_frac", "accel_time_frac", "log_path_per_chord",
    "gap_before_s", "dwell_before_press_s", "prev_type", "bbox_aspect",
    "vx_mean", "vx_sd", "vy_mean", "vy_sd", "v_median", "accel_phase_s",
    "omega_abs_max", "path_after_vmax_frac"};

namespace {
constexpr double kPi = 3.14159265358979323846;

struct MS {
  double n = 0, s = 0, ss = 0, mx = -1e300, mn = 1e300, sabs = 0;
  void add(double v) {
    ++n; s += v; ss += v * v; sabs += std::abs(v);
    mx = std::max(mx, v); mn = std::min(mn, v);
  }
  double mean() const { return n ? s / n : 0; }
  double amean() const { return n ? sabs / n : 0; }
  double sd() const { return n > 1 ? std::sqrt(std::max(0.0, (ss - s * s / n) / (n - 1))) : 0; }
  double max() const { return n ? mx : 0; }
  double min() const { return n ? mn : 0; }
};

// Linear interpolation of the trajectory on a grid t0, t0+dt, ..., ending
// with the last point's time (so duration is kept exactly).
std::vector<TrajPoint> resample(const std::vector<TrajPoint>& p, double dt) {
  std::vector<TrajPoint> g;
  if (p.empty()) return g;
  const double t0 = p.front().t, t1 = p.back().t;
  size_t j = 0;
  for (double t = t0;; t += dt) {
    if (t > t1) t = t1;
    while (j + 1 < p.size() && p[j + 1].t < t) ++j;
    TrajPoint q;
    if (j + 1 >= p.size()) {
      q = {t, p.back().x, p.back().y};
    } else {
      const TrajPoint &a = p[j], &b = p[j + 1];
      double span = b.t - a.t, u = span > 0 ? (t - a.t) / span : 1.0;
      u = std::min(1.0, std::max(0.0, u));
      q = {t, a.x + u * (b.x - a.x), a.y + u * (b.y - a.y)};
    }
    g.push_back(q);
    if (t >= t1) break;
  }
  return g;
}

}  // namespace

void action_features(ActionType type, const std::vector<TrajPoint>& pts, double hold_s,
                     int scroll_ticks, const SegmenterConfig& cfg, MouseAction* out,
                     const ActionContext& ctx) {
  auto& f = out->f;
  f.fill(0.f);
  f[32] = float(std::min(ctx.gap_s, 30.0));
  f[33] = float(std::min(ctx.dwell_s, 5.0));
  f[34] = float(ctx.prev_type);
  if (!pts.empty()) {
    double x0 = pts[0].x, x1 = x0, y0 = pts[0].y, y1 = y0;
    for (const TrajPoint& q : pts) {
      x0 = std::min(x0, q.x); x1 = std::max(x1, q.x);
      y0 = std::min(y0, q.y); y1 = std::max(y1, q.y);
    }
    f[35] = float(std::log((x1 - x0 + 1) / (y1 - y0 + 1)));
  }
  out->type = type;
  f[0] = type == ActionType::kMM;
  f[1] = type == ActionType::kPC;
  f[2] = type == ActionType::kDD;
  f[27] = float(hold_s);
  f[28] = float(scroll_ticks);
  if (pts.empty()) return;
  out->t_start = pts.front().t;
  out->t_end = pts.back().t;
  const double dur = pts.back().t - pts.front().t;
  const double dx = pts.back().x - pts.front().x, dy = pts.back().y - pts.front().y;
  const double chord = std::hypot(dx, dy);
  f[3] = float(dur);
  f[4] = float(chord);
  if (chord > 0) {
    f[8] = float(dy / chord);
    f[9] = float(dx / chord);
  }
  if (pts.size() < 2 || dur <= 0) return;
  const double dt = cfg.resample_s;
  std::vector<TrajPoint> g = resample(pts, dt);
  double path = 0;
  std::vector<double> v, seg_len, heading;
  for (size_t i = 1; i < g.size(); ++i) {
    double sx = g[i].x - g[i - 1].x, sy = g[i].y - g[i - 1].y, h = g[i].t - g[i - 1].t;
    double l = std::hypot(sx, sy);
    path += l;
    if (h > 1e-6) v.push_back(l / h);
    seg_len.push_back(l);
    heading.push_back(l > 0.5 ? std::atan2(sy, sx) : NAN);
  }
  f[5] = float(path);
  f[6] = path > 0 ? float(std::min(1.0, chord / path)) : 1.f;
  f[7] = float(path / dur);
  f[31] = chord > 0 ? float(std::log((path + 1) / (chord + 1))) : 0.f;
  MS vxs, vys;
  for (size_t i = 1; i < g.size(); ++i) {
    double h = g[i].t - g[i - 1].t;
    if (h <= 1e-6) continue;
    vxs.add((g[i].x - g[i - 1].x) / h);
    vys.add((g[i].y - g[i - 1].y) / h);
  }
  f[36] = float(vxs.mean());
  f[37] = float(vxs.sd());
  f[38] = float(vys.mean());
  f[39] = float(vys.sd());
  if (!v.empty()) {
    std::vector<double> vv(v);
    std::nth_element(vv.begin(), vv.begin() + vv.size() / 2, vv.end());
    f[40] = float(vv[vv.size() / 2]);
  }
  MS vs, as, js;
  size_t imax = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    vs.add(v[i]);
    if (v[i] > v[imax]) imax = i;
  }
  f[10] = float(vs.mean());
  f[11] = float(vs.sd());
  f[12] = float(vs.max());
  f[13] = v.size() > 1 ? float(double(imax) / double(v.size() - 1)) : 0.f;
  f[29] = vs.max() > 0 ? float(v.back() / vs.max()) : 0.f;
  f[41] = float(imax * dt);
  if (path > 0) {
    double after = 0;
    for (size_t i = imax; i < seg_len.size(); ++i) after += seg_len[i];
    f[43] = float(after / path);
  }
  std::vector<double> a;
  size_t accel_steps = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    a.push_back((v[i] - v[i - 1]) / dt);
    as.add(a.back());
    accel_steps += a.back() > 0;
  }
  for (size_t i = 1; i < a.size(); ++i) js.add((a[i] - a[i - 1]) / dt);
  f[14] = float(as.amean());
  f[15] = float(as.sd());
  f[16] = float(as.max());
  f[17] = float(as.min());
  f[18] = float(js.amean());
  f[19] = float(js.sd());
  f[30] = a.empty() ? 0.f : float(double(accel_steps) / a.size());
  // Angle changes between consecutive grid segments (skipping still ones).
  MS turn, curv;
  double prev_h = NAN, prev_turn = 0, prev_l = 0;
  int sign_changes = 0;
  for (size_t i = 0; i < heading.size(); ++i) {
    if (std::isnan(heading[i])) continue;
    if (!std::isnan(prev_h)) {
      double d = heading[i] - prev_h;
      while (d > kPi) d -= 2 * kPi;
      while (d < -kPi) d += 2 * kPi;
      turn.add(d);
      f[42] = std::max(f[42], float(std::abs(d) / dt));
      curv.add(d / std::max(1.0, 0.5 * (seg_len[i] + prev_l)));
      if (d * prev_turn < 0 && std::abs(d) > 0.05) ++sign_changes;
      if (std::abs(d) > 0.05) prev_turn = d;
    }
    prev_h = heading[i];
    prev_l = seg_len[i];
  }
  f[20] = float(turn.amean());
  f[21] = float(turn.sd());
  f[22] = float(turn.sabs);
  f[23] = float(curv.mean());
  f[24] = float(curv.sd());
  f[26] = path > 0 ? float(sign_changes / (path / 100.0)) : 0.f;
  // Largest perpendicular deviation from the chord, relative to the chord.
  if (chord > 0) {
    double md = 0;
    for (const TrajPoint& q : g) {
      double px = q.x - g.front().x, py = q.y - g.front().y;
      md = std::max(md, std::abs(px * dy - py * dx) / chord);
    }
    f[25] = float(md / chord);
  }
}

void ActionSegmenter::emit(ActionType type, std::vector<TrajPoint>& pts, double hold_s,
                           std::vector<MouseAction>* out) {
  bool ok = true;
  if (type != ActionType::kPC) {
    double path = 0;
    for (size_t i = 1; i < pts.size(); ++i)
      path += std::hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y);
    ok = pts.size() >= 2 && path >= cfg_.min_path_px;
  }
  if (ok && !pts.empty()) {
    MouseAction a;
    ActionContext ctx;
    ctx.gap_s = last_action_end_ >= 0 ? pts.front().t - last_action_end_ : 30.0;
    if (type != ActionType::kMM && pts.size() >= 2) {
      // pts ends at the press (PC) or starts at it (DD)
      ctx.dwell_s = type == ActionType::kPC ? pts.back().t - pts[pts.size() - 2].t : 0;
    }
    ctx.prev_type = prev_type_;
    action_features(type, pts, hold_s, scroll_, cfg_, &a, ctx);
    last_action_end_ = pts.back().t;
    prev_type_ = int(type);
    std::vector<double> d;
    for (size_t i = 1; i < raw_t_.size(); ++i)
      if (raw_t_[i] > raw_t_[i - 1]) d.push_back(raw_t_[i] - raw_t_[i - 1]);
    if (!d.empty()) {
      std::sort(d.begin(), d.end());
      a.cadence = {float(d[d.size() / 2]), float(d[d.size() / 10]), float(d[(d.size() * 9) / 10])};
    }
    out->push_back(a);
    scroll_ = 0;
  }
  pts.clear();
  raw_t_.clear();
}

void ActionSegmenter::push(const MouseEvent& e, std::vector<MouseAction>* out) {
  if (last_t_ >= 0 && e.t - last_t_ >= cfg_.pause_s && !pressed_ && !move_.empty()) {
    emit(ActionType::kMM, move_, 0, out);
  }
  if (last_t_ >= 0 && e.t < last_t_) return;  // out of order: drop
  last_t_ = e.t;
  switch (e.state) {
    case MouseState::kMove:
      if (pressed_) {  // move while pressed = drag
        drag_.push_back({e.t, e.x, e.y});
        raw_t_.push_back(e.t);
        break;
      }
      if (!move_.empty() && e.t - move_.front().t > cfg_.max_action_s)
        emit(ActionType::kMM, move_, 0, out);
      move_.push_back({e.t, e.x, e.y});
      raw_t_.push_back(e.t);
      break;
    case MouseState::kDrag:
      if (!pressed_) {  // drag without a seen press: treat as a press here
        pressed_ = true;
        press_t_ = e.t;
        drag_.clear();
      }
      drag_.push_back({e.t, e.x, e.y});
      raw_t_.push_back(e.t);
      break;
    case MouseState::kPressed:
      if (e.button == MouseButton::kLeft || e.button == MouseButton::kRight ||
          e.button == MouseButton::kMiddle) {
        pressed_ = true;
        press_t_ = e.t;
        drag_.clear();
        drag_.push_back({e.t, e.x, e.y});
        move_.push_back({e.t, e.x, e.y});
        raw_t_.push_back(e.t);
      }
      break;
    case MouseState::kReleased: {
      if (!pressed_) break;
      pressed_ = false;
      double hold = e.t - press_t_;
      drag_.push_back({e.t, e.x, e.y});
      double path = 0;
      for (size_t i = 1; i < drag_.size(); ++i)
        path += std::hypot(drag_[i].x - drag_[i - 1].x, drag_[i].y - drag_[i - 1].y);
      if (path >= cfg_.min_path_px) {
        // The approach movement (if any) is its own MM action.
        if (move_.size() > 1) {
          move_.pop_back();  // the press point belongs to the drag
          std::vector<double> keep;
          keep.swap(raw_t_);
          emit(ActionType::kMM, move_, 0, out);
          raw_t_.swap(keep);
        }
        move_.clear();
        emit(ActionType::kDD, drag_, hold, out);
      } else {
        emit(ActionType::kPC, move_, hold, out);
      }
      drag_.clear();
      move_.clear();
      raw_t_.clear();
      break;
    }
    case MouseState::kScrollUp:
    case MouseState::kScrollDown:
      if (!pressed_ && move_.size() > 1) emit(ActionType::kMM, move_, 0, out);
      ++scroll_;
      break;
  }
}

void ActionSegmenter::flush(std::vector<MouseAction>* out) {
  if (!pressed_ && !move_.empty()) emit(ActionType::kMM, move_, 0, out);
  move_.clear();
  drag_.clear();
  raw_t_.clear();
  pressed_ = false;
}

std::vector<MouseEvent> to_common_cadence(const std::vector<MouseEvent>& ev, double step) {
  std::vector<MouseEvent> out;
  out.reserve(ev.size());
  long long cell = -1;
  bool pending = false;
  MouseEvent last;
  auto q = [&](double t) { return (std::floor(t / step) + 1) * step; };  // end of cell
  for (const MouseEvent& e : ev) {
    long long c = (long long)std::floor(e.t / step);
    bool motion = e.state == MouseState::kMove || e.state == MouseState::kDrag;
    if (pending && c != cell) {
      out.push_back(last);
      pending = false;
    }
    if (motion) {
      last = e;
      last.t = q(e.t);
      cell = c;
      pending = true;
    } else {
      if (pending) {  // motion in this cell happens before the button event
        out.push_back(last);
        pending = false;
      }
      MouseEvent b = e;
      b.t = q(e.t);
      out.push_back(b);
    }
  }
  if (pending) out.push_back(last);
  return out;
}

std::vector<MouseEvent> to_common_grid(const std::vector<MouseEvent>& ev, double step,
                                       double fill_gap) {
  std::vector<MouseEvent> out;
  out.reserve(ev.size());
  bool have = false, lone = false;  // lone: run start not yet represented
  MouseEvent prev;                  // previous motion event (original time)
  double last_emit = -1e300;
  auto grid_after = [&](double t) { return std::ceil(t / step - 1e-9) * step; };
  auto emit_lone = [&]() {
    if (!lone) return;
    MouseEvent m = prev;
    m.t = std::max(grid_after(prev.t), last_emit + step);
    out.push_back(m);
    last_emit = m.t;
    lone = false;
  };
  for (const MouseEvent& e : ev) {
    bool motion = e.state == MouseState::kMove || e.state == MouseState::kDrag;
    if (!motion) {
      emit_lone();
      MouseEvent b = e;
      b.t = std::max(grid_after(e.t), last_emit);
      out.push_back(b);
      last_emit = b.t;
      have = false;  // motion after a button event starts a new run
      continue;
    }
    if (!have || e.t - prev.t >= fill_gap) {
      emit_lone();
      lone = true;  // represented once a later sample interpolates past it
    } else {
      // interpolate prev -> e on the grid points in [prev.t, e.t]
      for (double g = std::max(grid_after(prev.t), last_emit + step); g <= e.t + 1e-9; g += step) {
        double span = e.t - prev.t, u = span > 0 ? (g - prev.t) / span : 1.0;
        u = std::min(1.0, std::max(0.0, u));
        MouseEvent m = e;
        m.t = g;
        m.x = prev.x + u * (e.x - prev.x);
        m.y = prev.y + u * (e.y - prev.y);
        out.push_back(m);
        last_emit = g;
        lone = false;
      }
    }
    prev = e;
    have = true;
  }
  emit_lone();
  return out;
}

}  // namespace bio
}  // namespace sentinel
