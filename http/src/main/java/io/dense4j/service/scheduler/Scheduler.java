package io.dense4j.service.scheduler;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Decides which queued jobs start, on one server's {@link Capacity}.
 *
 * <h2>Policy</h2>
 * <ol>
 *   <li><b>Never oversubscribed</b>: the running jobs' threads add up to at most {@code cpus - reserved} and no GPU
 *       is given to two jobs.</li>
 *   <li><b>Order</b>: queued jobs are considered by priority (higher first), then submission order.</li>
 *   <li><b>Per-owner limit</b>: a job whose owner already runs {@code maxRunningPerOwner} jobs waits, without
 *       holding anything back from others.</li>
 *   <li><b>Reservation</b>: the first job in that order that does not fit becomes the <i>head</i>: the resources
 *       free now are earmarked for it, up to what it asks (threads, and GPU ids). Jobs behind it may start only on
 *       what is free beyond the earmark. Every resource released afterwards is earmarked for the head before anyone
 *       else sees it, so the head starts at the latest once the jobs running when it became head have finished
 *       (unless a job of higher priority arrives and becomes head). A large job is therefore never starved by a
 *       stream of small ones; small jobs still use what the head cannot (e.g. threads while the head waits for a
 *       GPU). There is no run-time estimate, hence no EASY-style backfilling into the earmark.</li>
 *   <li><b>Impossible jobs</b>: a job asking for more threads than {@code cpus - reserved}, or more GPUs than the
 *       server has, is refused at submission ({@link ImpossibleRequestException}).</li>
 * </ol>
 * Strict priority means a steady stream of higher-priority jobs can delay lower ones; that is the point of priority.
 *
 * <p>{@link #plan} is the policy as a pure function (what a server sharing a database queue calls with the queue
 * it read); the instance methods keep a queue and the running allocations in memory. Thread-safe.
 */
public final class Scheduler {
    private final Capacity capacity;
    private final int maxRunningPerOwner;
    private final Map<Long, JobRequest> queued = new LinkedHashMap<>();
    private final Map<Long, Allocation> running = new LinkedHashMap<>();

    /** @param maxRunningPerOwner at most this many running jobs per owner (Integer.MAX_VALUE: no limit) */
    public Scheduler(Capacity capacity, int maxRunningPerOwner) {
        if (maxRunningPerOwner < 1) {
            throw new IllegalArgumentException("the per-owner limit must be >= 1, got " + maxRunningPerOwner);
        }
        this.capacity = capacity;
        this.maxRunningPerOwner = maxRunningPerOwner;
    }

    public Capacity capacity() {
        return capacity;
    }

    public int maxRunningPerOwner() {
        return maxRunningPerOwner;
    }

    /** Refuses a job that could never fit, saying what it asked and what the server has. */
    public static void checkFits(Capacity capacity, int cpus, int gpus) {
        if (cpus < 1) {
            throw new ImpossibleRequestException("a job needs at least 1 CPU thread, it asked for " + cpus);
        }
        if (cpus > capacity.schedulableCpus()) {
            throw new ImpossibleRequestException("the job asks for " + cpus + " CPU threads but this server gives jobs at "
                    + "most " + capacity.schedulableCpus() + " (" + capacity.cpus() + " cpus, " + capacity.reservedCpus()
                    + " reserved for inference)");
        }
        if (gpus < 0) {
            throw new ImpossibleRequestException("GPUs cannot be negative, it asked for " + gpus);
        }
        if (gpus > capacity.gpus().size()) {
            throw new ImpossibleRequestException("the job asks for " + gpus + " GPU" + (gpus == 1 ? "" : "s")
                    + " but this server has " + (capacity.gpus().isEmpty() ? "none" : capacity.gpus().size() + " "
                    + capacity.gpus()));
        }
    }

    /** Queues a job. */
    public synchronized void submit(JobRequest job) {
        checkFits(capacity, job.cpus(), job.gpus());
        if (queued.containsKey(job.id()) || running.containsKey(job.id())) {
            throw new IllegalArgumentException("job " + job.id() + " is already queued or running");
        }
        queued.put(job.id(), job);
    }

    /** Starts every queued job the policy allows now; returns their allocations (the caller runs them). */
    public synchronized List<Allocation> schedule() {
        Map<String, Integer> perOwner = new HashMap<>();
        running.values().forEach(a -> perOwner.merge(a.owner(), 1, Integer::sum));
        Plan p = plan(capacity, maxRunningPerOwner, queued.values(), running.values(), perOwner);
        for (Allocation a : p.starts()) {
            queued.remove(a.jobId());
            running.put(a.jobId(), a);
        }
        return p.starts();
    }

    /** A running job ended (any way): its resources are free. Returns false when it was not running. */
    public synchronized boolean release(long jobId) {
        return running.remove(jobId) != null;
    }

    /** Cancels a queued job (removed) or a running one (resources freed). Returns false when unknown. */
    public synchronized boolean cancel(long jobId) {
        return queued.remove(jobId) != null || running.remove(jobId) != null;
    }

    public synchronized List<JobRequest> queued() {
        List<JobRequest> q = new ArrayList<>(queued.values());
        q.sort(ORDER);
        return q;
    }

    public synchronized List<Allocation> running() {
        return List.copyOf(running.values());
    }

    /** The job the free resources are earmarked for, if one is blocked. */
    public synchronized Optional<Long> head() {
        Map<String, Integer> perOwner = new HashMap<>();
        running.values().forEach(a -> perOwner.merge(a.owner(), 1, Integer::sum));
        return plan(capacity, maxRunningPerOwner, queued.values(), running.values(), perOwner).head();
    }

    /** Priority (higher first), then submission order. */
    public static final Comparator<JobRequest> ORDER = Comparator.comparingInt(JobRequest::priority).reversed()
            .thenComparingLong(JobRequest::seq).thenComparingLong(JobRequest::id);

    /**
     * What starts now and which job holds the reservation.
     *
     * @param starts the jobs to start, in order, with their resources
     * @param head   the blocked job the free resources are earmarked for
     */
    public record Plan(List<Allocation> starts, Optional<Long> head) {}

    /**
     * The policy as a pure function.
     *
     * @param queue            queued jobs (any order)
     * @param running          this server's running allocations
     * @param runningPerOwner  running jobs per owner (over every server sharing the queue, for a global limit)
     */
    public static Plan plan(Capacity capacity, int maxRunningPerOwner, Collection<JobRequest> queue,
                            Collection<Allocation> running, Map<String, Integer> runningPerOwner) {
        int freeCpus = capacity.schedulableCpus();
        TreeSet<Integer> freeGpus = new TreeSet<>(capacity.gpus());
        for (Allocation a : running) {
            freeCpus -= a.cpus();
            freeGpus.removeAll(a.gpus());
        }
        Map<String, Integer> owners = new HashMap<>(runningPerOwner);
        List<JobRequest> order = new ArrayList<>(queue);
        order.sort(ORDER);
        int earmarkedCpus = 0;
        List<Integer> earmarkedGpus = List.of();
        Long head = null;
        List<Allocation> starts = new ArrayList<>();
        for (JobRequest j : order) {
            if (owners.getOrDefault(j.owner(), 0) >= maxRunningPerOwner) {
                continue;
            }
            if (j.cpus() > capacity.schedulableCpus() || j.gpus() > capacity.gpus().size()) {
                continue; // can never fit (capacity changed since it was queued): never holds the reservation
            }
            int availCpus = freeCpus - earmarkedCpus;
            List<Integer> availGpus = new ArrayList<>(freeGpus);
            availGpus.removeAll(earmarkedGpus);
            if (j.cpus() <= availCpus && j.gpus() <= availGpus.size()) {
                List<Integer> gpus = List.copyOf(availGpus.subList(0, j.gpus()));
                starts.add(new Allocation(j.id(), j.owner(), j.cpus(), gpus));
                freeCpus -= j.cpus();
                freeGpus.removeAll(gpus);
                owners.merge(j.owner(), 1, Integer::sum);
            } else if (head == null && owners.getOrDefault(j.owner(), 0) == 0) {
                // the head holds what frees up until it fits: an owner with a job running may not hold it (a token
                // running a job on every CPU queued another as big, and no other token's job ever started)
                head = j.id();
                earmarkedCpus = Math.min(j.cpus(), freeCpus);
                earmarkedGpus = List.copyOf(new ArrayList<>(freeGpus).subList(0, Math.min(j.gpus(), freeGpus.size())));
            }
        }
        return new Plan(List.copyOf(starts), Optional.ofNullable(head));
    }
}
