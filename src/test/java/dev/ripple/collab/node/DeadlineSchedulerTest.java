package dev.ripple.collab.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.ActorSystem;
import akka.actor.Cancellable;
import akka.actor.Scheduler;
import akka.event.NoLogging;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import scala.concurrent.ExecutionContext;
import scala.concurrent.duration.FiniteDuration;

/** The timer service that sleeps until its next deadline: Akka's scheduler contract, and no idle ticking. */
class DeadlineSchedulerTest {
  private static final long TICK = TimeUnit.MILLISECONDS.toNanos(10);
  /** DeadlineScheduler purges its cancelled timers once there are this many and they are half the queue. */
  private static final int PURGE_LIMIT = 1024;

  private final ExecutorService pool = Executors.newSingleThreadExecutor();
  private final ExecutionContext ec = ExecutionContext.fromExecutor(pool);
  private final DeadlineScheduler scheduler =
      new DeadlineScheduler(TICK, NoLogging.getInstance(), r -> new Thread(r, "deadline-scheduler-test"));

  @AfterEach
  void stop() {
    scheduler.close();
    pool.shutdownNow();
  }

  private static FiniteDuration ms(long millis) {
    return FiniteDuration.create(millis, TimeUnit.MILLISECONDS);
  }

  @Test
  void aTimerRunsOnItsExecutorNoEarlierThanItsDelay() throws Exception {
    LinkedBlockingQueue<String> ran = new LinkedBlockingQueue<>();
    long start = System.nanoTime();
    scheduler.scheduleOnce(ms(50), () -> ran.add(Thread.currentThread().getName() + "@" + (System.nanoTime() - start)), ec);
    String got = ran.poll(5, TimeUnit.SECONDS);
    assertTrue(got != null, "the timer never ran");
    assertFalse(got.startsWith("deadline-scheduler-test"), "a task ran on the timer thread: " + got);
    long after = Long.parseLong(got.substring(got.indexOf('@') + 1));
    assertTrue(after >= TimeUnit.MILLISECONDS.toNanos(50), "ran " + after + " ns after scheduling, before its delay");
  }

  @Test
  void timersRunInDeadlineOrder() throws Exception {
    List<Integer> order = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(3);
    for (int delay : new int[] {90, 30, 60}) {
      scheduler.scheduleOnce(ms(delay), () -> {
        synchronized (order) {
          order.add(delay);
        }
        done.countDown();
      }, ec);
    }
    assertTrue(done.await(5, TimeUnit.SECONDS));
    assertEquals(List.of(30, 60, 90), order);
  }

  @Test
  void aCancelledTimerNeverRuns() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    Cancellable c = scheduler.scheduleOnce(ms(30), ran::incrementAndGet, ec);
    assertTrue(c.cancel());
    assertTrue(c.isCancelled());
    assertFalse(c.cancel(), "a second cancel reports that it changed nothing");
    CountDownLatch later = new CountDownLatch(1);
    scheduler.scheduleOnce(ms(80), later::countDown, ec);
    assertTrue(later.await(5, TimeUnit.SECONDS));
    assertEquals(0, ran.get());
  }

  @Test
  void aTimerThatRanCannotBeCancelled() throws Exception {
    CountDownLatch ran = new CountDownLatch(1);
    Cancellable c = scheduler.scheduleOnce(ms(1), ran::countDown, ec);
    assertTrue(ran.await(5, TimeUnit.SECONDS));
    pool.submit(() -> { }).get(5, TimeUnit.SECONDS);
    assertFalse(c.cancel());
    assertFalse(c.isCancelled());
  }

  @Test
  void aRepeatingTimerRepeatsUntilCancelled() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    CountDownLatch five = new CountDownLatch(5);
    Cancellable c = scheduler.schedule(ms(0), ms(10), () -> {
      runs.incrementAndGet();
      five.countDown();
    }, ec);
    assertTrue(five.await(5, TimeUnit.SECONDS), "repeated " + runs.get() + " times");
    assertTrue(c.cancel());
    pool.submit(() -> { }).get(5, TimeUnit.SECONDS);
    int atCancel = runs.get();
    Thread.sleep(100);
    assertTrue(runs.get() <= atCancel + 1, "ran " + (runs.get() - atCancel) + " times after cancel");
  }

  @Test
  void aRepeatingTimerThatThrowsStops() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    scheduler.schedule(ms(0), ms(10), () -> {
      runs.incrementAndGet();
      throw new IllegalStateException("boom");
    }, ec);
    Thread.sleep(150);
    assertEquals(1, runs.get());
  }

  @Test
  void anIdleSchedulerDoesNotWakeUp() throws Exception {
    Thread.sleep(300);
    assertEquals(0, scheduler.wakeUps(), "woke up with no timer");
    CountDownLatch ran = new CountDownLatch(1);
    scheduler.scheduleOnce(ms(20), ran::countDown, ec);
    assertTrue(ran.await(5, TimeUnit.SECONDS));
    long afterTimer = scheduler.wakeUps();
    Thread.sleep(300);
    assertEquals(afterTimer, scheduler.wakeUps(), "woke up after its only timer had run");
  }

  @Test
  void timersDueInOneTickFireOnOneWakeUp() throws Exception {
    // wait until just past a tick boundary so that all deadlines land on the same next one
    CountDownLatch aligned = new CountDownLatch(1);
    scheduler.scheduleOnce(ms(0), aligned::countDown, ec);
    assertTrue(aligned.await(5, TimeUnit.SECONDS));
    long before = scheduler.wakeUps();
    CountDownLatch all = new CountDownLatch(100);
    for (int i = 0; i < 100; i++) {
      scheduler.scheduleOnce(FiniteDuration.create(30_000 + i * 10, TimeUnit.MICROSECONDS), all::countDown, ec);
    }
    assertTrue(all.await(5, TimeUnit.SECONDS));
    // 100 timers spread over 1 ms: one or two tick-grid deadlines, so a few wake-ups, not 100
    assertTrue(scheduler.wakeUps() - before <= 4, (scheduler.wakeUps() - before) + " wake-ups for 100 timers");
  }

  @Test
  void cancelledTimersDoNotPileUp() {
    for (int i = 0; i < 5000; i++) {
      scheduler.scheduleOnce(ms(60_000), () -> { }, ec).cancel();
    }
    // the purge runs on the timer thread's next turn; a new earliest deadline gives it one
    scheduler.scheduleOnce(ms(0), () -> { }, ec);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (scheduler.queued() > PURGE_LIMIT && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertTrue(scheduler.queued() <= PURGE_LIMIT, scheduler.queued() + " timers still queued");
  }

  @Test
  void closeRunsTheTasksMarkedRunOnCloseAndDropsTheRest() {
    AtomicInteger onClose = new AtomicInteger();
    AtomicInteger other = new AtomicInteger();
    class ShutdownTask implements Runnable, Scheduler.TaskRunOnClose {
      @Override
      public void run() {
        onClose.incrementAndGet();
      }
    }
    scheduler.scheduleOnce(ms(60_000), new ShutdownTask(), ec);
    scheduler.scheduleOnce(ms(60_000), other::incrementAndGet, ec);
    scheduler.close();
    assertEquals(1, onClose.get());
    assertEquals(0, other.get());
  }

  @Test
  void schedulingAfterCloseIsRefused() {
    scheduler.close();
    assertThrows(IllegalStateException.class, () -> scheduler.scheduleOnce(ms(1), () -> { }, ec));
  }

  @Test
  void anActorSystemRunsItsTimersOnIt() throws Exception {
    ActorSystem system = ActorSystem.create("deadline", ConfigFactory.parseString(
        "akka.scheduler.implementation = \"dev.ripple.collab.node.DeadlineScheduler\"\nakka.actor.provider = local")
        .withFallback(ConfigFactory.defaultReference()));
    try {
      assertTrue(system.scheduler() instanceof DeadlineScheduler);
      CountDownLatch ran = new CountDownLatch(1);
      system.scheduler().scheduleOnce(ms(20), ran::countDown, system.dispatcher());
      assertTrue(ran.await(5, TimeUnit.SECONDS));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }
}
