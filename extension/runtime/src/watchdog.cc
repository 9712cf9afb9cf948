// The interrupt watchdog. PostgreSQL's signal handlers only set flags
// (QueryCancelPending, ProcDiePending) that the backend checks at safe points; a
// JavaScript loop has none. This thread polls those flags while JavaScript runs and
// calls TerminateExecution; the call handler then leaves V8 and runs
// CHECK_FOR_INTERRUPTS, so PostgreSQL raises its own error (57014, FATAL for terminate).
//
// Cost per call: plain (relaxed) loads and stores, no lock, no fence, no system call.
// After a second without JavaScript the thread sleeps on a condition variable, waking
// at least every 250 ms: a wake-up that races with going to sleep (possible with
// relaxed ordering) costs at most that much cancel latency, never a missed cancel.
#include "runtime.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <time.h>

namespace cw {

static std::mutex *mu;                 // leaked on purpose: alive until exit()
static std::condition_variable *cv;
static std::atomic<bool> js_active{false};
static std::atomic<bool> sleeping{false};
static std::atomic<bool> terminate_sent{false};  // written under mu

static void terminate_locked() {
  if (!terminate_sent.load()) {
    terminate_sent.store(true);
    isolate->TerminateExecution();
  }
}

static void loop() {
  int idle_ticks = 0, pending_ticks = 0;
  struct timespec tick = {0, 5 * 1000 * 1000};  // 5 ms
  for (;;) {
    if (js_active.load()) {
      idle_ticks = 0;
      if (InterruptPending && (QueryCancelPending || ProcDiePending)) {
        std::lock_guard<std::mutex> g(*mu);
        // Send again if the interrupt is still pending 100 ms later: a nested call may
        // have consumed the first request without PostgreSQL handling the interrupt.
        if (++pending_ticks % 20 == 0) terminate_sent.store(false);
        if (js_active.load()) terminate_locked();
      } else {
        pending_ticks = 0;
      }
    } else if (++idle_ticks > 200) {
      std::unique_lock<std::mutex> g(*mu);
      sleeping.store(true, std::memory_order_relaxed);
      cv->wait_for(g, std::chrono::milliseconds(250), [] { return js_active.load(std::memory_order_relaxed); });
      sleeping.store(false, std::memory_order_relaxed);
      if (js_active.load(std::memory_order_relaxed)) idle_ticks = 0;
      continue;
    }
    nanosleep(&tick, nullptr);
  }
}

void watchdog_start() {
  mu = new std::mutex();
  cv = new std::condition_variable();
  std::thread(loop).detach();
}

void js_enter() {
  // A termination the watchdog sent just after the previous call ended is stale.
  if (terminate_sent.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> g(*mu);
    isolate->CancelTerminateExecution();
    terminate_sent.store(false);
  }
  js_active.store(true, std::memory_order_relaxed);
  if (sleeping.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> g(*mu);
    cv->notify_one();
  }
}

void js_leave() {
  js_active.store(false, std::memory_order_relaxed);
  if (terminate_sent.load(std::memory_order_acquire)) {
    // A termination that arrived as the script finished must not hit the next call.
    std::lock_guard<std::mutex> g(*mu);
    isolate->CancelTerminateExecution();
    terminate_sent.store(false);
  }
}

// From the main thread: always ask V8 again, since an earlier request may already have
// been consumed by a nested call's JavaScript.
void request_termination() {
  std::lock_guard<std::mutex> g(*mu);
  terminate_sent.store(true);
  isolate->TerminateExecution();
}

}  // namespace cw
