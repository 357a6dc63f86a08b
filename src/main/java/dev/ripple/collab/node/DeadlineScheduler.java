package dev.ripple.collab.node;

import akka.actor.Cancellable;
import akka.actor.Scheduler;
import akka.actor.SchedulerException;
import akka.event.LoggingAdapter;
import com.typesafe.config.Config;
import java.io.Closeable;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import scala.concurrent.ExecutionContext;
import scala.concurrent.duration.FiniteDuration;

/**
 * Akka's timer service ({@code akka.scheduler.implementation}), made for a server that is idle most
 * of the time: its thread sleeps until the earliest timer is due, not from tick to tick.
 *
 * <p>Akka's own scheduler wakes every {@code akka.scheduler.tick-duration} (10 ms) whether a timer is
 * due or not. On this project's 2-core VMs each wake-up cost about 90 µs, which was half of an idle
 * server's CPU (bench/load/README.md, "Idle CPU"). Here deadlines are still rounded up to that tick
 * grid, so timers due close together fire on one wake-up and a busy server wakes this thread at most
 * once per tick, as before; an idle one wakes only for the timers it really has (cluster gossip,
 * heartbeats), a few per second.
 *
 * <p>The contract is Akka's {@link Scheduler}: the thread only hands a due task to its
 * {@link ExecutionContext}; a repeating task is scheduled again after its run, at a fixed rate, and
 * stops when it throws; {@link #close()} runs the pending {@link Scheduler.TaskRunOnClose} tasks
 * (dispatcher shut-downs) and drops the rest; scheduling after close throws
 * {@link IllegalStateException}. Cancelled timers leave the queue lazily, and the queue is purged
 * once they are the larger part of it, so a timer reset on every message does not pile up.
 */
public final class DeadlineScheduler implements Scheduler, Closeable {
  /** A deadline that a delay cannot push past without overflowing {@link System#nanoTime()}. */
  private static final long MAX_DELAY_NANOS = TimeUnit.DAYS.toNanos(365L * 100);
  /** Purge cancelled timers when there are at least this many and they are half the queue. */
  private static final int PURGE_AT = 1024;

  private static final int WAITING = 0;
  private static final int DISPATCHED = 1;
  private static final int CANCELLED = 2;
  private static final int FINISHED = 3;

  private final long tickNanos;
  private final LoggingAdapter log;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final PriorityQueue<Timer> queue = new PriorityQueue<>(DeadlineScheduler::compare);
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicInteger cancelledInQueue = new AtomicInteger();
  private final AtomicLong wakeUps = new AtomicLong();
  private final Thread thread;
  /** Guarded by {@link #lock}. */
  private boolean closed;

  /** The constructor Akka calls reflectively (see {@link Scheduler}). */
  public DeadlineScheduler(Config config, LoggingAdapter log, ThreadFactory threadFactory) {
    this(config.getDuration("akka.scheduler.tick-duration", TimeUnit.NANOSECONDS), log, threadFactory);
  }

  DeadlineScheduler(long tickNanos, LoggingAdapter log, ThreadFactory threadFactory) {
    if (tickNanos <= 0) {
      throw new IllegalArgumentException("akka.scheduler.tick-duration must be positive");
    }
    this.tickNanos = tickNanos;
    this.log = log;
    this.thread = threadFactory.newThread(this::loop);
    this.thread.setDaemon(true);
    this.thread.start();
  }

  @Override
  public Cancellable scheduleOnce(FiniteDuration delay, Runnable runnable, ExecutionContext executor) {
    return enqueue(new Timer(runnable, executor, 0L, deadlineAfter(delay.toNanos())));
  }

  /** A fixed-rate repetition: each run is due one interval after the previous one was due. */
  @Override
  public Cancellable schedule(
      FiniteDuration initialDelay, FiniteDuration interval, Runnable runnable, ExecutionContext executor) {
    long period = interval.toNanos();
    if (period <= 0) {
      throw new IllegalArgumentException("a repeating timer needs a positive interval, not " + interval);
    }
    return enqueue(new Timer(runnable, executor, period, deadlineAfter(initialDelay.toNanos())));
  }

  @Override
  public double maxFrequency() {
    return TimeUnit.SECONDS.toNanos(1) / (double) tickNanos;
  }

  /** How often the timer thread has woken up so far (for tests and diagnostics). */
  long wakeUps() {
    return wakeUps.get();
  }

  /** Timers in the queue, cancelled ones not yet removed included (for tests). */
  int queued() {
    lock.lock();
    try {
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    List<Timer> left;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      left = new ArrayList<>(queue);
      queue.clear();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    try {
      thread.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Timer timer : left) {
      if (timer.body instanceof Scheduler.TaskRunOnClose && timer.state.compareAndSet(WAITING, FINISHED)) {
        try {
          timer.body.run();
        } catch (RuntimeException e) {
          log.error(e, "a timer task run at scheduler close failed");
        }
      }
    }
  }

  private long deadlineAfter(long delayNanos) {
    long delay = Math.min(Math.max(delayNanos, 0L), MAX_DELAY_NANOS);
    return roundUp(System.nanoTime() + delay);
  }

  /** The first tick-grid point at or after t (nanoTime values may be negative). */
  private long roundUp(long t) {
    return Math.floorDiv(t + tickNanos - 1, tickNanos) * tickNanos;
  }

  private static int compare(Timer a, Timer b) {
    long d = a.deadline - b.deadline;
    if (d != 0) {
      return d < 0 ? -1 : 1;
    }
    return Long.compare(a.seq, b.seq);
  }

  private Timer enqueue(Timer timer) {
    lock.lock();
    try {
      if (closed) {
        throw new IllegalStateException("the scheduler is closed: the actor system is shutting down");
      }
      timer.seq = sequence.getAndIncrement();
      queue.add(timer);
      if (queue.peek() == timer) {
        // the new earliest deadline: the thread may be sleeping towards a later one
        changed.signal();
      }
    } finally {
      lock.unlock();
    }
    return timer;
  }

  private void loop() {
    List<Timer> due = new ArrayList<>();
    while (true) {
      lock.lock();
      try {
        while (due.isEmpty()) {
          if (closed) {
            return;
          }
          purgeIfMostlyCancelled();
          Timer head = queue.peek();
          if (head == null) {
            changed.await();
            wakeUps.incrementAndGet();
            continue;
          }
          long now = System.nanoTime();
          long wait = head.deadline - now;
          if (wait > 0) {
            changed.awaitNanos(wait);
            wakeUps.incrementAndGet();
            continue;
          }
          while (head != null && head.deadline - now <= 0) {
            queue.poll();
            if (head.state.get() == CANCELLED) {
              cancelledInQueue.decrementAndGet();
            } else {
              due.add(head);
            }
            head = queue.peek();
          }
        }
      } catch (InterruptedException e) {
        return;
      } finally {
        lock.unlock();
      }
      for (Timer timer : due) {
        timer.dispatch();
      }
      due.clear();
    }
  }

  /** Called with the lock held. */
  private void purgeIfMostlyCancelled() {
    int cancelled = cancelledInQueue.get();
    if (cancelled >= PURGE_AT && cancelled * 2 >= queue.size()) {
      int before = queue.size();
      queue.removeIf(t -> t.state.get() == CANCELLED);
      cancelledInQueue.addAndGet(queue.size() - before);
    }
  }

  private final class Timer implements Cancellable, Runnable {
    final Runnable body;
    final ExecutionContext executor;
    final long periodNanos;
    final AtomicInteger state = new AtomicInteger(WAITING);
    /** Written before the timer is (re)queued, read under the lock. */
    long deadline;
    long seq;

    Timer(Runnable body, ExecutionContext executor, long periodNanos, long deadline) {
      this.body = body;
      this.executor = executor;
      this.periodNanos = periodNanos;
      this.deadline = deadline;
    }

    /** On the timer thread: hands the body to its executor unless cancelled meanwhile. */
    void dispatch() {
      if (!state.compareAndSet(WAITING, DISPATCHED)) {
        // cancelled after it left the queue: the cancel counted it as queued
        cancelledInQueue.decrementAndGet();
        return;
      }
      try {
        executor.execute(this);
      } catch (RuntimeException e) {
        state.set(FINISHED);
        log.error(e, "a timer's executor refused its task");
      }
    }

    /** On the executor. */
    @Override
    public void run() {
      try {
        body.run();
      } catch (SchedulerException e) {
        // a repeating message to an actor that has terminated: the repetition ends quietly
        state.compareAndSet(DISPATCHED, FINISHED);
        return;
      } catch (RuntimeException | Error e) {
        state.compareAndSet(DISPATCHED, FINISHED);
        throw e;
      }
      if (periodNanos == 0) {
        state.compareAndSet(DISPATCHED, FINISHED);
        return;
      }
      // fixed rate, but never a backlog of runs: if the run overran, the next is due at the next tick
      long next = deadline + periodNanos;
      long now = System.nanoTime();
      deadline = next - now < 0 ? roundUp(now) : roundUp(next);
      if (state.compareAndSet(DISPATCHED, WAITING)) {
        try {
          enqueue(this);
        } catch (IllegalStateException closing) {
          state.set(FINISHED);
        }
      }
    }

    @Override
    public boolean cancel() {
      while (true) {
        int s = state.get();
        if (s == CANCELLED || s == FINISHED || (s == DISPATCHED && periodNanos == 0)) {
          return false;
        }
        if (state.compareAndSet(s, CANCELLED)) {
          if (s == WAITING) {
            cancelledInQueue.incrementAndGet();
          }
          return true;
        }
      }
    }

    @Override
    public boolean isCancelled() {
      return state.get() == CANCELLED;
    }
  }
}
