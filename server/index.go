package server

import (
	"index/suffixarray"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/tollhq/toll/catalog"
)

// searchIndex answers toll_search over a large catalog without reading every operation:
// an operation matches a query word when one of its words contains it, in its head
// (name, title and path: 3 points) or its description (1 point). The index lists, for
// each distinct word, the operations whose head and whose description hold it, and a
// suffix array over the distinct words finds every word that contains a query word.
// Results are ranked as a scan of every operation ranks them: by points, then in
// catalog order. A query word of one or two letters matches whole words only: as part
// of a word it would match nearly every operation of a large catalog, and say nothing.
type searchIndex struct {
	n     int     // operations
	vocab []byte  // the distinct words, each followed by 0
	start []int32 // where each word starts in vocab, in order
	sa    *suffixarray.Index
	ids   map[string]int32 // the distinct words, by word
	head  [][]int32        // by word: the operations whose head holds it, in order
	body  [][]int32        // by word: the operations whose description holds it, in order
}

// newSearchIndex indexes ops, in their order.
func newSearchIndex(ops []*catalog.Operation) *searchIndex {
	ix := &searchIndex{n: len(ops)}
	ids := make(map[string]int32)
	add := func(lists *[][]int32, w string, op int32) {
		id, ok := ids[w]
		if !ok {
			id = int32(len(ix.start))
			ids[w] = id
			ix.start = append(ix.start, int32(len(ix.vocab)))
			ix.vocab = append(append(ix.vocab, w...), 0)
			ix.head = append(ix.head, nil)
			ix.body = append(ix.body, nil)
		}
		l := &(*lists)[id]
		if n := len(*l); n == 0 || (*l)[n-1] != op {
			*l = append(*l, op)
		}
	}
	for i, op := range ops {
		for _, s := range []string{op.Name, op.Title, op.Path} {
			eachWord(s, func(w string) { add(&ix.head, w, int32(i)) })
		}
		eachWord(op.Description, func(w string) { add(&ix.body, w, int32(i)) })
	}
	ix.sa = suffixarray.New(ix.vocab)
	ix.ids = ids
	return ix
}

// shortWord is the most runes a query word matching whole words only has.
const shortWord = 2

// containing returns the words of the index that contain w (that are w, for a short
// w).
func (ix *searchIndex) containing(w string) []int32 {
	if utf8.RuneCountInString(w) <= shortWord {
		if id, ok := ix.ids[w]; ok {
			return []int32{id}
		}
		return nil
	}
	offsets := ix.sa.Lookup([]byte(w), -1)
	found := make([]int32, 0, len(offsets))
	for _, off := range offsets {
		// The word holding offset off: the last that starts at or before it.
		id := int32(sort.Search(len(ix.start), func(i int) bool { return int(ix.start[i]) > off }) - 1)
		found = append(found, id)
	}
	slices.Sort(found)
	return slices.Compact(found)
}

// search returns the operations that match the query words, best first, and their
// points.
func (ix *searchIndex) search(query []string) (hits []int32, points []int) {
	score := make([]int32, ix.n)
	seenHead := make([]int32, ix.n) // the query word (1-based) that last gave head points
	seenBody := make([]int32, ix.n)
	var touched []int32
	for qi, w := range query {
		stamp := int32(qi + 1)
		for _, id := range ix.containing(w) {
			for _, op := range ix.head[id] {
				if seenHead[op] != stamp {
					seenHead[op] = stamp
					if score[op] == 0 {
						touched = append(touched, op)
					}
					score[op] += 3
				}
			}
			for _, op := range ix.body[id] {
				if seenBody[op] != stamp {
					seenBody[op] = stamp
					if score[op] == 0 {
						touched = append(touched, op)
					}
					score[op]++
				}
			}
		}
	}
	slices.SortFunc(touched, func(a, b int32) int {
		if score[a] != score[b] {
			return int(score[b] - score[a])
		}
		return int(a - b)
	})
	points = make([]int, len(touched))
	for i, op := range touched {
		points[i] = int(score[op])
	}
	return touched, points
}

// eachWord calls fn with each of words(s), in order, without allocating a list of them
// where s is ASCII (a large catalog's index reads millions of words).
func eachWord(s string, fn func(w string)) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			for _, w := range words(s) {
				fn(w)
			}
			return
		}
	}
	s = strings.ToLower(s)
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9') {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(s[start:i])
			start = -1
		}
	}
}
