#include "launch.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block_sync.h"
#include "builtins.h"
#include "call_site.h"
#include "cp_async.h"
#include "futex.h"
#include "instrument.h"
#include "shared_memory.h"

namespace rdm::simt {

namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr std::size_t kMaxDynamicSharedBytes = 227 * 1024;  // sm_90 opt-in maximum per block
constexpr double kDefaultTimeoutSeconds = 10.0;

std::string dim_str(const dim3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

// OS threads that run the CUDA threads of a block. Worker i always emulates linear thread
// i; the pool grows to the largest block seen and lives until process exit. Workers wait on
// their own ticket word, so a block of n threads wakes exactly n workers.
class ThreadPool {
 public:
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  ~ThreadPool() {
    stop_.store(true);
    for (auto& w : workers_) {
      w->ticket.fetch_add(1, std::memory_order_release);
      detail::wake_one(w->ticket);
    }
    for (auto& w : workers_) w->thread.join();
  }

  // Runs `thunk(ctx)` on workers 0..nthreads-1 and returns when all of them finished,
  // calling `on_period` every `period` until then.
  void run_block(unsigned nthreads, KernelThunk thunk, const void* ctx, std::chrono::nanoseconds period,
                 const std::function<void()>& on_period) {
    while (workers_.size() < nthreads) {
      auto w = std::make_unique<Worker>();
      Worker* raw = w.get();
      const auto index = static_cast<unsigned>(workers_.size());
      workers_.push_back(std::move(w));
      raw->thread = std::thread([this, raw, index] { worker_loop(*raw, index); });
    }
    thunk_ = thunk;
    ctx_ = ctx;
    remaining_.store(nthreads, std::memory_order_relaxed);
    for (unsigned i = 0; i < nthreads; ++i) {  // the release publishes thunk_, ctx_ and the block state
      workers_[i]->ticket.fetch_add(1, std::memory_order_release);
      detail::wake_one(workers_[i]->ticket);
    }
    auto deadline = std::chrono::steady_clock::now() + period;
    for (std::uint32_t left; (left = remaining_.load(std::memory_order_acquire)) != 0;) {
      if (!detail::wait_for_change(remaining_, left, deadline)) {
        on_period();
        deadline = std::chrono::steady_clock::now() + period;
      }
    }
  }

 private:
  // A child created by fork() has none of the workers: forget them (without destroying their
  // std::thread objects, which would terminate) so that the child's first launch starts new
  // ones instead of waiting forever.
  ThreadPool() {
    pthread_atfork(nullptr, nullptr, [] {
      for (auto& w : instance().workers_) static_cast<void>(w.release());
      instance().workers_.clear();
    });
  }

  static std::chrono::steady_clock::time_point far_future() {
    return std::chrono::steady_clock::now() + std::chrono::hours(24);  // waits re-check their word anyway
  }

  struct Worker {
    std::thread thread;
    std::atomic<std::uint32_t> ticket{0};  // bumped once per block this worker must run
  };

  void worker_loop(Worker& self, unsigned index) {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t ticket;
      while ((ticket = self.ticket.load(std::memory_order_acquire)) == seen)
        detail::wait_for_change(self.ticket, seen, far_future());
      if (stop_.load()) return;
      seen = ticket;
      run_thread(index, thunk_, ctx_);
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) detail::wake_one(remaining_);
    }
  }

  static void run_thread(unsigned index, KernelThunk thunk, const void* ctx) {
    const dim3& b = detail::g_grid.block_dim;
    detail::t_thread = {{index % b.x, index / b.x % b.y, index / (b.x * b.y)}, index, true};
    detail::cp_async_reset_thread();
    detail::BlockSync& sync = detail::block_sync();
    try {
      thunk(ctx);
    } catch (const detail::LaunchAborted&) {
      // The error is already recorded.
    } catch (const std::exception& e) {
      sync.abort("exception thrown in thread " + std::to_string(index) + ": " + e.what());
    } catch (...) {
      sync.abort("unknown exception thrown in thread " + std::to_string(index));
    }
    sync.thread_exited();
    detail::t_thread.in_kernel = false;
  }

  std::vector<std::unique_ptr<Worker>> workers_;  // touched by the launching thread only
  KernelThunk thunk_ = nullptr;
  const void* ctx_ = nullptr;
  std::atomic<std::uint32_t> remaining_{0};  // workers still running the current block
  std::atomic<bool> stop_{false};
};

std::chrono::nanoseconds barrier_timeout() {
  double seconds = kDefaultTimeoutSeconds;
  if (const char* env = std::getenv("RDM_SIMT_TIMEOUT_S"); env != nullptr && env[0] != '\0') {
    char* end = nullptr;
    seconds = std::strtod(env, &end);
    if (*end != '\0' || !(seconds > 0))
      throw LaunchError(std::string("rdm SIMT: RDM_SIMT_TIMEOUT_S='") + env + "' is not a positive number");
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
}

void validate(const std::string& context, dim3 grid, dim3 block, std::size_t smem) {
  const auto fail = [&](const std::string& why) {
    throw LaunchError(context + ": invalid configuration argument: " + why);
  };
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0) fail("the block has 0 threads");
  if (threads > kMaxThreadsPerBlock || block.x > 1024 || block.y > 1024 || block.z > 64)
    fail("at most 1024 threads per block and blockDim <= (1024,1024,64)");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) fail("the grid has 0 blocks");
  if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) fail("gridDim must be <= (2^31-1,65535,65535)");
  if (smem > kMaxDynamicSharedBytes)
    fail(std::to_string(smem) + " bytes of dynamic shared memory exceed the 227 KiB per block");
}

}  // namespace

void run_grid(const char* kernel_name, dim3 grid, dim3 block, std::size_t dynamic_smem_bytes, KernelThunk thunk,
              const void* ctx) {
  const std::string context = std::string("rdm SIMT: launch of kernel '") + kernel_name + "' with grid " +
                              dim_str(grid) + ", block " + dim_str(block) + ", " +
                              std::to_string(dynamic_smem_bytes) + " bytes of dynamic shared memory";
  if (detail::t_thread.in_kernel)
    throw LaunchError(context + ": launches from inside a kernel are not supported");
  validate(context, grid, block, dynamic_smem_bytes);
  const auto timeout = barrier_timeout();
  unsigned checks = 0;
  try {
    checks = active_checks();
  } catch (const LaunchError& e) {
    throw LaunchError(context + ": " + e.what());
  }

  // One launch at a time: the static __shared__ variables, the block state and the
  // built-ins exist once.
  static std::mutex launch_mutex;
  std::lock_guard launch_lock(launch_mutex);
  detail::prepare_shared_memory(dynamic_smem_bytes);
  detail::begin_launch(kernel_name, grid, block, dynamic_smem_bytes, checks);
  detail::g_grid.block_dim = block;
  detail::g_grid.grid_dim = grid;
  const unsigned nthreads = block.x * block.y * block.z;
  detail::BlockSync& sync = detail::block_sync();
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        detail::g_grid.block_idx = {x, y, z};
        detail::poison_shared_memory();
        sync.reset(nthreads, timeout);
        detail::begin_block(nthreads);
        // Watchdog: a thread that spins without ever reaching a barrier cannot be stopped,
        // but the launch must not hang silently.
        std::uint64_t progress = sync.progress();
        bool warned = false;
        ThreadPool::instance().run_block(nthreads, thunk, ctx, timeout, [&] {
          if (sync.progress() != progress || warned) {
            progress = sync.progress();
            return;
          }
          warned = true;
          const std::string block_str = context + ", block " + dim_str(dim3(x, y, z));
          const std::string message =
              sync.aborted() ? block_str + " failed, but some threads are still running and cannot be stopped; "
                                           "waiting for them to reach a barrier or exit (an endless loop?)"
                             : block_str + ": no thread reached a barrier or exited for RDM_SIMT_TIMEOUT_S; "
                                           "still waiting (an endless loop, or a spin-wait on another block?); " +
                                   sync.state_report();
          std::fprintf(stderr, "[warning] %s\n", message.c_str());
        });
        std::string error = sync.error();
        if (error.empty()) error = detail::end_block();  // counters, then racecheck / initcheck
        if (!error.empty()) throw LaunchError(context + " failed in block " + dim_str(dim3(x, y, z)) + ": " + error);
      }
  detail::end_launch();
}

}  // namespace rdm::simt
