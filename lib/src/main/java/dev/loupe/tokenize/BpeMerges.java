package dev.loupe.tokenize;

import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Ranked byte-pair merges over token ids. {@link #apply} repeatedly joins the adjacent pair whose merge
 * has the lowest rank (came earliest in merges.txt), the leftmost such pair first, until no adjacent pair
 * has a merge: Hugging Face's BPE, which gives the same tokens as OpenAI's encoder.py.
 */
final class BpeMerges {

    /** (left id, right id) packed into a long, to the merge's rank. */
    private final Map<Long, Integer> rankOfPair = new HashMap<>();
    /** Indexed by rank: the id of the token the merge makes. */
    private final int[] mergedId;

    BpeMerges(int[] left, int[] right, int[] merged) {
        mergedId = merged.clone();
        for (int rank = 0; rank < left.length; rank++) {
            rankOfPair.put(pair(left[rank], right[rank]), rank);
        }
    }

    int size() {
        return mergedId.length;
    }

    /**
     * The tokens that {@code ids} (one token per byte of a pre-token) merge into. A priority queue of
     * (rank, position) keeps this O(n log n) in the word's length; entries made stale by an earlier merge
     * are skipped when they come up.
     */
    int[] apply(int[] ids) {
        int n = ids.length;
        if (n < 2) {
            return ids;
        }
        int[] id = ids.clone(); // -1 once absorbed into the symbol on its left
        int[] prev = new int[n];
        int[] next = new int[n]; // -1 at the end
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Long> queue = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, id[i], id[i + 1], i);
        }
        int left = n;
        while (!queue.isEmpty()) {
            long top = queue.poll();
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            int right = next[pos];
            if (id[pos] < 0 || right < 0 || rank(id[pos], id[right]) != rank) {
                continue; // stale: a merge since this was queued changed one side of the pair
            }
            id[pos] = mergedId[rank];
            id[right] = -1;
            left--;
            next[pos] = next[right];
            if (next[pos] >= 0) {
                prev[next[pos]] = pos;
                offer(queue, id[pos], id[next[pos]], pos);
            }
            if (prev[pos] >= 0) {
                offer(queue, id[prev[pos]], id[pos], prev[pos]);
            }
        }
        int[] out = new int[left];
        for (int i = 0, k = 0; i >= 0; i = next[i]) {
            out[k++] = id[i];
        }
        return out;
    }

    private void offer(PriorityQueue<Long> queue, int leftId, int rightId, int pos) {
        int rank = rank(leftId, rightId);
        if (rank >= 0) {
            queue.add((long) rank << 32 | pos); // orders by rank, then by position
        }
    }

    private int rank(int leftId, int rightId) {
        Integer rank = rankOfPair.get(pair(leftId, rightId));
        return rank == null ? -1 : rank;
    }

    private static long pair(int leftId, int rightId) {
        return (long) leftId << 32 | (rightId & 0xFFFFFFFFL);
    }
}
