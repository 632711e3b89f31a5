package dev.loupe.spark;

import java.io.Serializable;

/** One window of a document: the document's number in the corpus, where the window starts in its tokens, its ids. */
record Window(long doc, int start, int[] tokens) implements Serializable {}
