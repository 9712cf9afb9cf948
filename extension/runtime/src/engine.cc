// Engine start-up: one V8 isolate per backend, created on the first plv8 call.
//
// Why it is cheap: V8 runs single-threaded here (no worker pool: no threads to start,
// no thread stacks to pay for, nothing to race PostgreSQL's signal handlers), and the
// isolate is entered once and never left, so a call costs no Isolate::Scope.
#include "runtime.h"

#include <libplatform/libplatform.h>
#include <csignal>
#include <pthread.h>

extern "C" {
#include "tcop/tcopprot.h"
#include "utils/guc.h"
}

namespace cw {

v8::Isolate *isolate = nullptr;
bool heap_limit_hit = false;

// Leaked on purpose (as are all V8 handles kept in statics): nothing V8-related may be
// torn down by exit-time destructors while the isolate still exists.
static v8::Platform *platform;
static v8::ArrayBuffer::Allocator *allocator;
static size_t initial_heap_limit;

// V8 calls this when the heap is about to exceed its limit. Giving it room for a moment
// and terminating the script turns "out of memory" into an SQL error instead of abort().
static size_t near_heap_limit(void *, size_t current_limit, size_t initial_limit) {
  heap_limit_hit = true;
  request_termination();
  return current_limit + std::max<size_t>(initial_limit, 64u << 20);
}

// Last resort: V8 cannot continue. Ending only this backend (FATAL exits cleanly) is
// better than abort(), which makes the postmaster restart every session.
static void on_oom(const char *location, bool is_heap_oom) {
  ereport(FATAL, (errcode(ERRCODE_OUT_OF_MEMORY),
                  errmsg("JavaScript %s out of memory in %s", is_heap_oom ? "heap" : "process",
                         location ? location : "V8")));
}

static void on_fatal(const char *location, const char *message) {
  ereport(FATAL, (errcode(ERRCODE_INTERNAL_ERROR),
                  errmsg("V8 fatal error in %s: %s", location ? location : "?", message ? message : "?")));
}

// V8 must stop recursing before PostgreSQL's own stack check would: place its limit
// below the backend's stack base by max_stack_depth, minus room for the SQL a deep
// script may still call.
static void set_stack_limit() {
  pg_stack_base_t base = set_stack_base();
  restore_stack_base(base);
  char *b = (char *)base;
  long depth = (long)max_stack_depth * 1024L;
  long allow = depth - 512L * 1024L;
  if (allow < 256L * 1024L) allow = 256L * 1024L;
  isolate->SetStackLimit((uintptr_t)(b - allow));
}

void engine_start() {
  if (isolate) return;

  static bool v8_initialized = false;
  if (!v8_initialized) {
    // --single-threaded: no concurrent compiler or GC threads. Semi-space sizes bound
    // the young generation, which dominates the heap's share of RSS. The start-up
    // snapshot is embedded in the read-only libnode mapping: checksumming it on every
    // isolate creation only costs time (~0.15 ms of the ~3 ms V8 start).
    // --always-sparkplug: compile to baseline machine code on first call instead of
    // interpreting until a function is hot. Each backend warms its own isolate, and a
    // supervisor's ten connections each ran the step path interpreted for hundreds of
    // calls: 20-30 % more steps/s (make bench-supervisor), same call overhead and RSS.
    // (--no-lazy-feedback-allocation, tried too, made it slower: earlier optimizing.)
    const char flags[] =
        "--single-threaded --no-expose-wasm --max-semi-space-size=2 --min-semi-space-size=1 "
        "--always-sparkplug --no-verify-snapshot-checksum";
    v8::V8::SetFlagsFromString(flags, sizeof(flags) - 1);
    v8::V8::InitializeICU();
    platform = v8::platform::NewSingleThreadedDefaultPlatform().release();
    v8::V8::InitializePlatform(platform);
    v8::V8::Initialize();
    v8_initialized = true;
  }

  allocator = v8::ArrayBuffer::Allocator::NewDefaultAllocator();
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator;
  size_t limit = (size_t)cw_memory_limit_mb << 20;
  params.constraints.ConfigureDefaultsFromHeapSize(0, limit);
  params.constraints.set_max_old_generation_size_in_bytes(limit);

  // Threads inherit the creating thread's signal mask: block everything while the
  // watchdog starts so SIGINT/SIGALRM always reach PostgreSQL's main thread.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  isolate = v8::Isolate::New(params);
  bool watchdog_ok = true;
  try {
    watchdog_start();
  } catch (...) {  // std::thread throws if the system refuses a thread
    watchdog_ok = false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!watchdog_ok) {
    isolate->Dispose();
    isolate = nullptr;
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_RESOURCES), errmsg("could not start the clockwork_v8 watchdog thread")));
  }

  isolate->Enter();
  initial_heap_limit = limit;
  set_stack_limit();
  isolate->AddNearHeapLimitCallback(near_heap_limit, nullptr);
  isolate->SetOOMErrorHandler(on_oom);
  isolate->SetFatalErrorHandler(on_fatal);
  isolate->SetAllowAtomicsWait(false);  // Atomics.wait would block the backend forever
}

void engine_after_oom() {
  heap_limit_hit = false;
  isolate->RemoveNearHeapLimitCallback(near_heap_limit, initial_heap_limit);
  isolate->AddNearHeapLimitCallback(near_heap_limit, nullptr);
  isolate->LowMemoryNotification();
}

}  // namespace cw
