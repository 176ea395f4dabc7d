package password

// Hand-written port of the parts of Python's difflib.SequenceMatcher that Django's similarity
// validator depends on. No Go library reproduces difflib's numbers exactly (go-difflib ports
// the line-diff API, not quick_ratio, and rounds differently), and the 0.7 threshold only means
// what Django means if the ratio is computed the same way. Sequences are code points, as
// Python's str indexes them.

// calculateRatio is difflib's _calculate_ratio: 2*M/T, and 1.0 for two empty sequences.
func calculateRatio(matches, length int) float64 {
	if length == 0 {
		return 1.0
	}
	return 2.0 * float64(matches) / float64(length)
}

// quickRatio is SequenceMatcher(a=a, b=b).quick_ratio(): the size of the multiset intersection
// of a and b, as a ratio. It is an upper bound on ratio() and what Django uses.
func quickRatio(a, b []rune) float64 {
	avail := make(map[rune]int, len(b))
	for _, r := range b {
		avail[r]++
	}
	matches := 0
	for _, r := range a {
		if avail[r] > 0 {
			matches++
		}
		avail[r]--
	}
	return calculateRatio(matches, len(a)+len(b))
}

// ratio is SequenceMatcher(None, a, b).ratio() with autojunk=True: the total size of the
// matching blocks found by recursive longest-match, as a ratio.
func ratio(a, b []rune) float64 {
	// __chain_b: index b, then drop "popular" elements (more than 1% of a b of >= 200 items).
	b2j := make(map[rune][]int)
	for j, r := range b {
		b2j[r] = append(b2j[r], j)
	}
	if n := len(b); n >= 200 {
		ntest := n/100 + 1
		for r, idx := range b2j {
			if len(idx) > ntest {
				delete(b2j, r)
			}
		}
	}
	findLongest := func(alo, ahi, blo, bhi int) (int, int, int) {
		besti, bestj, bestsize := alo, blo, 0
		j2len := map[int]int{}
		for i := alo; i < ahi; i++ {
			newj2len := map[int]int{}
			for _, j := range b2j[a[i]] {
				if j < blo {
					continue
				}
				if j >= bhi {
					break
				}
				k := j2len[j-1] + 1
				newj2len[j] = k
				if k > bestsize {
					besti, bestj, bestsize = i-k+1, j-k+1, k
				}
			}
			j2len = newj2len
		}
		// No junk function, so bjunk is empty: extend over equal (popular) elements only.
		for besti > alo && bestj > blo && a[besti-1] == b[bestj-1] {
			besti, bestj, bestsize = besti-1, bestj-1, bestsize+1
		}
		for besti+bestsize < ahi && bestj+bestsize < bhi && a[besti+bestsize] == b[bestj+bestsize] {
			bestsize++
		}
		return besti, bestj, bestsize
	}
	type span struct{ alo, ahi, blo, bhi int }
	queue := []span{{0, len(a), 0, len(b)}}
	matches := 0 // ratio needs only the total size of the blocks, not their order
	for len(queue) > 0 {
		q := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		i, j, k := findLongest(q.alo, q.ahi, q.blo, q.bhi)
		if k == 0 {
			continue
		}
		matches += k
		if q.alo < i && q.blo < j {
			queue = append(queue, span{q.alo, i, q.blo, j})
		}
		if i+k < q.ahi && j+k < q.bhi {
			queue = append(queue, span{i + k, q.ahi, j + k, q.bhi})
		}
	}
	return calculateRatio(matches, len(a)+len(b))
}
