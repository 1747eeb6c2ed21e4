#!/bin/sh
# Real programs under LD_PRELOAD, output compared with a run without it.
. "$top_srcdir/tests/preload/lib.sh"

cat >"$tmp/work.py" <<'PY'
import json, hashlib, collections, threading
d = {}
for i in range(200000):
    d[str(i)] = [i] * (i % 7)
s = json.dumps({k: v for k, v in list(d.items())[:5000]})
h = hashlib.sha256(s.encode()).hexdigest()
c = collections.Counter(len(v) for v in d.values())
res = []
def work(n):
    res.append(sum(len(str(x)) for x in range(n)))
ts = [threading.Thread(target=work, args=(50000 + i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(h, sorted(c.items()), sorted(res))
PY
run_both "python3 dict/json/threads workload" python3 "$tmp/work.py"
run_both "perl hash and regex workload" perl -e '
my %h; for my $i (1..200000) { $h{"k$i"} = "v" x ($i % 50) }
my $n = grep { /v{10}/ } values %h; my @s = sort keys %h; print "$n $s[0] $s[-1]\n";'
printf 'create table t(a integer primary key, b text);\n' >"$tmp/sql"
i=0; while [ $i -lt 300 ]; do printf "insert into t(b) values(printf('%%.*c', %d, 'x'));\n" $((i * 7 % 500)) >>"$tmp/sql"; i=$((i + 1)); done
printf 'create index tb on t(b);\nselect count(*), sum(length(b)) from t;\nselect b from t order by b desc limit 1;\n' >>"$tmp/sql"
run_both "sqlite3 inserts, index, queries" sh -c "sqlite3 :memory: < '$tmp/sql'"
seq 1 200000 | awk '{ print ($1 * 7919) % 100003 }' >"$tmp/nums"
run_both "sort -n of 200000 lines" sort -n "$tmp/nums"
run_both "sort -u with threads" sort -u --parallel=2 -S 1M "$tmp/nums"
if command -v git >/dev/null 2>&1; then
	(cd "$tmp" && git init -q repo && cd repo && i=0 && while [ $i -lt 50 ]; do echo "line $i" >"f$i"; i=$((i + 1)); done &&
	 git add . && git -c user.email=t@e -c user.name=t commit -qm init) >/dev/null 2>&1
	run_both "git log/diff/status on a repository" sh -c "cd '$tmp/repo' && git log --format=%s && git status --short && git diff HEAD --stat && git count-objects"
else
	skip "git" "git not installed"
fi
cat >"$tmp/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
struct node { struct node *next; int v; };
int main(void) {
	struct node *h = NULL; long s = 0;
	for (int i = 0; i < 100000; i++) { struct node *n = malloc(sizeof *n); n->v = i; n->next = h; h = n; }
	while (h) { struct node *n = h->next; s += h->v; free(h); h = n; }
	printf("%ld\n", s); return 0;
}
C
if command -v gcc >/dev/null 2>&1; then
	LD_PRELOAD="$SM_LIB" gcc -O2 -o "$tmp/prog_sm" "$tmp/prog.c" 2>"$tmp/gcc.err"; st=$?
	gcc -O2 -o "$tmp/prog_ref" "$tmp/prog.c"
	ok $st "gcc compiles a C file under LD_PRELOAD"
	if [ $st -eq 0 ] && cmp -s "$tmp/prog_sm" "$tmp/prog_ref"; then ok 0 "gcc under LD_PRELOAD produces the same binary"; else ok 1 "gcc under LD_PRELOAD produces the same binary"; fi
	run_both "the compiled program's own mallocs" "$tmp/prog_ref"
else
	skip "gcc" "gcc not installed"
fi
done_testing
