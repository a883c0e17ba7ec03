// Mouse-dynamics action segmentation and cadence-invariant per-action features.
//
// Contract (to be wrapped by the Node-API addon later; no Node types here):
//  * Input: pointer events in time order (seconds on one monotonic clock),
//    absolute position in pixels (relative evdev motion is accumulated by the
//    collector), button and state. Events must not be logged or stored; the
//    segmenter keeps only the points of the action in progress.
//  * Output: MouseAction records, each a fixed-length feature vector
//    (kActionFeatures floats, schema version kMouseSchemaVersion) with no
//    absolute screen position inside.
//  * Action types: MM (movement ending in a pause, i.e. no event for
//    pause_s, or at a scroll), PC (point-click: movement since the previous
//    action plus the press/release), DD (drag-drop: press, drag moves, release).
//  * CADENCE INVARIANCE: every trajectory is first resampled by linear
//    interpolation to a fixed time step (resample_s, default 0.1 s, at least
//    the coarsest device cadence expected) and all kinematic and curvature
//    features are computed on that grid; no feature counts raw events. Only
//    two context features use raw times: the gap since the previous action
//    and the dwell between the last movement sample and the press (measured
//    in docs/biometrics.md: the score does not depend on them). A device
//    reporting at 60 Hz and one coalescing to ~9 Hz then give (nearly) the
//    same features for one motion.
//  * Not internally synchronised; one segmenter per pointer stream.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace sentinel {
namespace bio {

enum class MouseButton : uint8_t { kNone = 0, kLeft = 1, kRight = 2, kMiddle = 3, kScroll = 4 };
enum class MouseState : uint8_t { kMove = 0, kDrag = 1, kPressed = 2, kReleased = 3, kScrollUp = 4, kScrollDown = 5 };

struct MouseEvent {
  double t = 0;  // seconds
  double x = 0, y = 0;
  MouseButton button = MouseButton::kNone;
  MouseState state = MouseState::kMove;
};

enum class ActionType : uint8_t { kMM = 0, kPC = 1, kDD = 2 };

constexpr int kMouseSchemaVersion = 1;
constexpr int kActionFeatures = 44;
// Feature names, index-aligned with MouseAction::f (for docs and manifests).
extern const char* const kActionFeatureNames[kActionFeatures];

struct MouseAction {
  ActionType type = ActionType::kMM;
  double t_start = 0, t_end = 0;
  std::array<float, kActionFeatures> f{};
  // Raw-timing summary kept ONLY for the evaluation's cadence-only baseline
  // (median, 10th and 90th percentile inter-event step of the action's raw
  // events). Not part of f; a deployment never uses it.
  std::array<float, 3> cadence{};
};

struct SegmenterConfig {
  double pause_s = 1.0;        // gap that ends a movement
  double resample_s = 0.1;     // fixed time step for kinematics
  double min_path_px = 20.0;   // shorter MM/DD movements are dropped
  double max_action_s = 20.0;  // longer movements are cut
};

// Computes the features of one trajectory (points in time order).
struct TrajPoint { double t, x, y; };
// `ctx` carries the action's context: gap since the previous action ended,
// dwell between the last movement and the press (PC/DD), previous type.
struct ActionContext { double gap_s = 0, dwell_s = 0; int prev_type = -1; };
void action_features(ActionType type, const std::vector<TrajPoint>& pts, double hold_s,
                     int scroll_ticks, const SegmenterConfig& cfg, MouseAction* out,
                     const ActionContext& ctx = {});

class ActionSegmenter {
 public:
  explicit ActionSegmenter(SegmenterConfig cfg = {}) : cfg_(cfg) {}
  // Feed one event; completed actions are appended to `out`.
  void push(const MouseEvent& e, std::vector<MouseAction>* out);
  // End of stream: emit the movement in progress, if any.
  void flush(std::vector<MouseAction>* out);

 private:
  void emit(ActionType type, std::vector<TrajPoint>& pts, double hold_s,
            std::vector<MouseAction>* out);
  SegmenterConfig cfg_;
  std::vector<TrajPoint> move_, drag_;
  std::vector<double> raw_t_;  // event times of the action in progress (cadence baseline only)
  bool pressed_ = false;
  double last_action_end_ = -1;
  int prev_type_ = -1;
  double press_t_ = 0, last_t_ = -1;
  int scroll_ = 0;
};

// Resample a session's event stream to one common cadence: timestamps are
// quantised to a grid of step `step_s` and, within one grid cell, only the
// last movement event is kept; button and scroll events are all kept.
// Used by the evaluation to show the features survive a cadence change.
std::vector<MouseEvent> to_common_cadence(const std::vector<MouseEvent>& ev, double step_s);

// Stronger variant: motion is linearly interpolated onto the exact grid
// k * step_s wherever consecutive motion events are less than fill_gap_s
// apart (a recorder's dropped or coalesced samples), so every recorder yields
// one event per grid step while moving; longer gaps (real pauses) are kept.
// Button and scroll events are kept, their times moved to the next grid point.
std::vector<MouseEvent> to_common_grid(const std::vector<MouseEvent>& ev, double step_s,
                                       double fill_gap_s = 0.25);

}  // namespace bio
}  // namespace sentinel
