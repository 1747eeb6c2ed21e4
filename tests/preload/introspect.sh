#!/bin/sh
# slabmalloc-ctl and slabmalloc-top on live, unmodified processes started
# under LD_PRELOAD with no option: a multi-threaded C program and python3,
# read from outside while they run (idle between commands); the figures
# move as they allocate; trim lowers RSS; forked children get their own
# segment; bad PIDs get a clear refusal. Every wait is bounded (the FIFOs
# are opened read-write, which never blocks, and every tool runs under
# timeout).
. "$top_srcdir/tests/preload/lib.sh"
ctl="$top_builddir/tools/slabmalloc-ctl"
top="$top_builddir/tools/slabmalloc-top"
target="$top_builddir/tests/preload/smi_target"
T="timeout 30"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	exec 3>&- 4>&- 5>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for FILE REGEX: until a line of FILE matches (10 s at most)
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		i=$((i + 1))
	done
	diag "timed out waiting for '$2' in $1: $(tail -3 "$1" 2>/dev/null)"
	return 1
}

# wait_count FILE N: until FILE has N "ready" lines (10 s at most)
wait_count() {
	i=0
	while [ "$(grep -c '^ready' "$1")" -lt "$2" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# field FILE CACHE COLUMN: a column of a cache's slabinfo line
field() { awk -v c="$2" -v k="$3" '$1 == c { print $k }' "$1"; }
# kb FILE NAME: a meminfo line's value
kb() { awk -v n="$2:" '$1 == n { print $2 }' "$1"; }

# ---- a multi-threaded C program, idle between commands ----
mkfifo "$tmp/in"
LD_PRELOAD="$SM_LIB" "$target" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
tp=$!
pids="$pids $tp"
exec 3<>"$tmp/in"
wait_for "$tmp/out" "^ready 0"; ok $? "the C program started under LD_PRELOAD"
[ -f "/dev/shm/slabmalloc-$(id -u)/$tp" ]
ok $? "it published its segment /dev/shm/slabmalloc-UID/PID"

# Idle since its start: no service thread yet, the published snapshot
# answers, and says how old it is.
$T "$ctl" --timeout=300 "$tp" slabinfo >"$tmp/s0" 2>"$tmp/s0.err"; st=$?
ok $st "slabinfo of an idle process answers (status $st)"
grep -q "made no allocator call" "$tmp/s0.err"
ok $? "... and says its figures are from the last publication"
head -1 "$tmp/s0" | grep -qx "slabinfo - version: 2.1"
ok $? "the text is /proc/slabinfo version 2.1"
awk 'NR > 2 && !/^[a-z0-9_-]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ : tunables +[0-9]+ +[0-9]+ +[0-9]+ : slabdata +[0-9]+ +[0-9]+ +[0-9]+$/ { bad = 1 } END { exit bad }' "$tmp/s0"
ok $? "every cache line has the 2.1 columns"
grep -q "^kmalloc-256 " "$tmp/s0"; ok $? "the kmalloc-256 cache is listed"

# Allocation: 4 threads x 20000 objects of 200 bytes (kmalloc-224). The
# first slow path starts the service thread, which serves from then on.
echo "alloc 20000" >&3
wait_for "$tmp/out" "^ready 1"
$T "$ctl" "$tp" slabinfo >"$tmp/s1" 2>"$tmp/s1.err"; st=$?
ok $st "slabinfo after the threads allocated (status $st)"
[ ! -s "$tmp/s1.err" ]; ok $? "... answered by the service thread (fresh, no note)"
a0=$(field "$tmp/s0" kmalloc-224 2); a1=$(field "$tmp/s1" kmalloc-224 2)
[ -n "$a1" ] && [ "$a1" -ge $(( ${a0:-0} + 78000 )) ]
ok $? "kmalloc-224 active objects grew by the 80000 objects ($a0 -> $a1)"
$T "$ctl" "$tp" meminfo >"$tmp/m1"; ok $? "meminfo answers"
sa=$(kb "$tmp/m1" SlabActive)
[ -n "$sa" ] && [ "$sa" -ge 16000 ]; ok $? "meminfo SlabActive counts them (${sa} kB)"
$T "$ctl" "$tp" buddyinfo >"$tmp/b1"; ok $? "buddyinfo answers"
grep -q "^Node 0, zone   Normal" "$tmp/b1"; ok $? "buddyinfo has /proc/buddyinfo's layout"

echo "free" >&3
wait_for "$tmp/out" "^ready 2"
$T "$ctl" "$tp" slabinfo >"$tmp/s2"; ok $? "slabinfo after the frees"
a2=$(field "$tmp/s2" kmalloc-224 2)
[ -n "$a2" ] && [ "$a2" -le $(( a1 - 78000 )) ]
ok $? "kmalloc-224 active objects fell back ($a1 -> $a2)"

$T "$top" --once "$tp" >"$tmp/top1"; st=$?
ok $st "slabmalloc-top --once answers (status $st)"
grep -q "Active / Total Objects" "$tmp/top1" && grep -q " kmalloc-224$" "$tmp/top1"
ok $? "its screen has the summary and the caches"
$T "$top" --once -s n "$tp" >"$tmp/top2"
awk '/^ +OBJS/ { on = 1; next } on { print $NF }' "$tmp/top2" >"$tmp/names"
sort -c "$tmp/names" 2>/dev/null; ok $? "-s n sorts by name"
$T "$top" --once -s z "$tp" >/dev/null 2>&1; [ $? -eq 1 ]; ok $? "a bad sort key is refused"

# The interactive screen, in a terminal that tmux provides: it draws the
# caches, re-sorts on a key and quits on q.
if command -v tmux >/dev/null 2>&1; then
	sock="$tmp/tmux.sock"
	tmux -S "$sock" new-session -d -x 120 -y 40 "$top -d 0.3 $tp" 2>/dev/null
	i=0; while ! tmux -S "$sock" capture-pane -p 2>/dev/null | grep -q "OBJS ACTIVE" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	tmux -S "$sock" capture-pane -p >"$tmp/screen1" 2>/dev/null
	grep -q "OBJS ACTIVE" "$tmp/screen1" && grep -q "sorted by o" "$tmp/screen1"
	ok $? "slabmalloc-top draws its screen in a terminal"
	tmux -S "$sock" send-keys n 2>/dev/null
	i=0; while ! tmux -S "$sock" capture-pane -p 2>/dev/null | grep -q "sorted by n" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	tmux -S "$sock" capture-pane -p 2>/dev/null | grep -q "sorted by n"
	ok $? "the n key sorts by name"
	tmux -S "$sock" send-keys q 2>/dev/null
	i=0; while tmux -S "$sock" has-session 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	! tmux -S "$sock" has-session 2>/dev/null
	ok $? "q quits"
	tmux -S "$sock" kill-server 2>/dev/null
else
	skip "slabmalloc-top in a terminal" "tmux not installed"
fi

# trim: 200 MiB freed, then given back at once.
echo "big 200" >&3
wait_for "$tmp/out" "^ready 3"
echo "freebig" >&3
wait_for "$tmp/out" "^ready 4"
rss_before=$(awk '{ print $2 * 4 }' "/proc/$tp/statm")
vsz_before=$(awk '{ print $1 * 4 }' "/proc/$tp/statm")
$T "$ctl" "$tp" trim >"$tmp/trim" 2>&1; st=$?
ok $st "trim answers (status $st): $(cat "$tmp/trim")"
rss_after=$(awk '{ print $2 * 4 }' "/proc/$tp/statm")
[ "$rss_after" -le $(( rss_before - 150000 )) ]
ok $? "trim lowered the RSS by the freed 200 MiB ($rss_before kB -> $rss_after kB)"
vsz_after=$(awk '{ print $1 * 4 }' "/proc/$tp/statm")
$T "$ctl" "$tp" meminfo >"$tmp/m2"
off=$(kb "$tmp/m2" HeapOffline)
[ -n "$off" ] && [ "$off" -ge 150000 ]
ok $? "meminfo HeapOffline: the emptied sections went offline (${off:-none} kB)"
[ "$vsz_after" -le $(( vsz_before - 150000 )) ]
ok $? "and gave their address space back ($vsz_before kB -> $vsz_after kB)"
$T "$ctl" "$tp" shrink kmalloc-224 >"$tmp/shrink"; ok $? "shrink kmalloc-224: $(cat "$tmp/shrink")"
$T "$ctl" "$tp" shrink no-such-cache >/dev/null 2>"$tmp/shrink.err"; st=$?
[ $st -eq 1 ] && grep -q "no cache named" "$tmp/shrink.err"
ok $? "shrink of an unknown cache is refused"

# fork: the child has its own segment (after its first slow path), the
# parent keeps its own, and the child's file goes when it exits.
echo "fork" >&3
wait_for "$tmp/out" "^child "
cp=$(awk '/^child / { print $2 }' "$tmp/out")
wait_for "$tmp/out" "^ready 5"
$T "$ctl" --timeout=200 "$cp" slabinfo >"$tmp/c1" 2>/dev/null; st=$?
ok $st "the forked child (pid $cp) answers on its own segment"
$T "$ctl" "$tp" meminfo >/dev/null; ok $? "the parent still answers"
echo "reap" >&3
wait_for "$tmp/out" "^ready 6"
[ ! -e "/dev/shm/slabmalloc-$(id -u)/$cp" ]; ok $? "the child's segment is gone after its exit"

# A process stopped by a report of bad input (sm_fatal, then abort)
# removes its segment file first.
if command -v python3 >/dev/null 2>&1; then
	LD_PRELOAD="$SM_LIB" python3 -c 'import ctypes
l = ctypes.CDLL(None)
l.malloc.restype = ctypes.c_void_p
l.free.argtypes = [ctypes.c_void_p]
p = l.malloc(40)
l.free(p)
l.free(p)' 2>"$tmp/df.err" &
	dfp=$!
	wait $dfp
	grep -q "double free detected" "$tmp/df.err" && [ ! -e "/dev/shm/slabmalloc-$(id -u)/$dfp" ]
	ok $? "a process aborted by a double-free report leaves no segment file"
else
	skip "a process aborted by a report leaves no segment file" "python3 not installed"
fi
# slub_debug from outside: switch owner tracking on, allocate, read the
# leak report, switch it off; a bad setting is refused.
$T "$ctl" "$tp" debug U >"$tmp/dbg" 2>&1; st=$?
ok $st "debug U is applied (status $st): $(cat "$tmp/dbg")"
echo "alloc 100" >&3
wait_for "$tmp/out" "^ready 7"
$T "$ctl" "$tp" leaks >"$tmp/leaks" 2>&1; st=$?
nleak=$(awk '/leak report:/ { print $4 }' "$tmp/leaks")
[ $st -eq 0 ] && [ "${nleak:-0}" -ge 400 ] && grep -q "kmalloc-224" "$tmp/leaks"
ok $? "leaks lists the 400 tracked 200-byte objects by site (${nleak:-none} objects)"
echo "free" >&3
wait_for "$tmp/out" "^ready 8"
$T "$ctl" "$tp" debug off >/dev/null 2>&1; ok $? "debug off is applied"
$T "$ctl" "$tp" debug QQ >/dev/null 2>"$tmp/dbgbad"; st=$?
[ $st -eq 1 ] && grep -q "bad debug setting" "$tmp/dbgbad"
ok $? "a bad debug setting is refused with a clear message"
echo "quit" >&3
i=0; while kill -0 "$tp" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ ! -e "/dev/shm/slabmalloc-$(id -u)/$tp" ]; ok $? "the segment is removed at exit"
$T "$ctl" "$tp" slabinfo >/dev/null 2>"$tmp/gone.err"; st=$?
[ $st -eq 2 ]; ok $? "a process that has exited is refused (status $st): $(cat "$tmp/gone.err")"

# ---- python3, idle in readline between commands ----
if command -v python3 >/dev/null 2>&1; then
	cat >"$tmp/t.py" <<'PY'
import sys
keep = []
print("ready", flush=True)
for line in sys.stdin:
    if line.startswith("alloc"):
        keep = [bytes(300) + str(i).encode() for i in range(50000)]
    elif line.startswith("free"):
        keep = []
    print("ready", flush=True)
PY
	mkfifo "$tmp/pin"
	PYTHONMALLOC=malloc LD_PRELOAD="$SM_LIB" python3 "$tmp/t.py" <"$tmp/pin" >"$tmp/pout" 2>&1 &
	pp=$!
	pids="$pids $pp"
	exec 4<>"$tmp/pin"
	wait_for "$tmp/pout" "^ready"
	ok $? "python3 started under LD_PRELOAD"
	$T "$ctl" --timeout=300 "$pp" meminfo >"$tmp/pm0" 2>/dev/null; ok $? "python3: meminfo while idle"
	echo alloc >&4
	wait_count "$tmp/pout" 2
	$T "$ctl" "$pp" meminfo >"$tmp/pm1"; ok $? "python3: meminfo after it allocated"
	$T "$ctl" "$pp" slabinfo >"$tmp/ps1"; ok $? "python3: slabinfo after it allocated"
	s0=$(kb "$tmp/pm0" SlabActive); s1=$(kb "$tmp/pm1" SlabActive)
	[ -n "$s1" ] && [ "$s1" -ge $(( ${s0:-0} + 15000 )) ]
	ok $? "python3: SlabActive grew with 50000 objects of 340 bytes ($s0 -> $s1 kB)"
	a=$(field "$tmp/ps1" kmalloc-384 2)
	[ -n "$a" ] && [ "$a" -ge 50000 ]; ok $? "python3: kmalloc-384 holds them ($a active)"
	echo free >&4
	wait_count "$tmp/pout" 3
	$T "$ctl" "$pp" slabinfo >"$tmp/ps2"; ok $? "python3: slabinfo after it freed"
	b=$(field "$tmp/ps2" kmalloc-384 2)
	[ -n "$b" ] && [ "$b" -le $(( a - 49000 )) ]; ok $? "python3: kmalloc-384 active fell back ($a -> $b)"
	exec 4>&-
else
	skip "python3" "python3 not installed"
fi

# ---- a statically linked program (no LD_PRELOAD) ----
cc=${SM_CC:-cc}
if [ -f "$top_builddir/src/.libs/libslabmalloc.a" ] &&
   $cc -static -o "$tmp/smi_static" "$top_srcdir/tests/preload/smi_target.c" \
	"$top_builddir/src/.libs/libslabmalloc.a" -lpthread >"$tmp/static.err" 2>&1; then
	mkfifo "$tmp/sin"
	"$tmp/smi_static" <"$tmp/sin" >"$tmp/sout" 2>&1 &
	xp=$!
	pids="$pids $xp"
	exec 5<>"$tmp/sin"
	wait_for "$tmp/sout" "^ready 0"
	[ -f "/dev/shm/slabmalloc-$(id -u)/$xp" ]
	ok $? "a statically linked program publishes its segment too"
	$T "$ctl" --timeout=300 "$xp" meminfo >/dev/null 2>&1
	ok $? "... answers while idle"
	echo "alloc 5000" >&5
	wait_for "$tmp/sout" "^ready 1"
	$T "$ctl" "$xp" slabinfo >"$tmp/x1" 2>"$tmp/x1.err"; st=$?
	x=$(field "$tmp/x1" kmalloc-224 2)
	[ $st -eq 0 ] && [ ! -s "$tmp/x1.err" ] && [ -n "$x" ] && [ "$x" -ge 19000 ]
	ok $? "... and its service thread answers after it allocated (kmalloc-224: $x active)"
	exec 5>&-
else
	skip "a statically linked program" "cannot link statically: $(head -c 200 "$tmp/static.err")"
fi

# ---- refusals ----
$T "$ctl" 999999999 slabinfo >/dev/null 2>"$tmp/e1"; st=$?
[ $st -eq 2 ] && grep -q "no process with pid" "$tmp/e1"
ok $? "a nonexistent PID is refused: $(cat "$tmp/e1")"
sleep 30 &
sp=$!
pids="$pids $sp"
$T "$ctl" "$sp" slabinfo >/dev/null 2>"$tmp/e2"; st=$?
[ $st -eq 2 ] && grep -q "does not use slabmalloc" "$tmp/e2"
ok $? "a plain sleep is refused: $(cat "$tmp/e2")"
$T "$top" --once "$sp" >/dev/null 2>"$tmp/e3"; st=$?
[ $st -eq 2 ] && grep -q "does not use slabmalloc" "$tmp/e3"
ok $? "slabmalloc-top refuses it too"
# A stale segment (its process died without its destructor): the tools
# remove it, and say so when it is the one asked for.
sd="/dev/shm/slabmalloc-$(id -u)"
mkdir -p "$sd" && chmod 700 "$sd"
sleep 30 &
sp2=$!
pids="$pids $sp2"
for f in 999999998 "$sp2"; do
	head -c 4096 /dev/zero >"$sd/$f" && chmod 600 "$sd/$f" && touch -d '1 minute ago' "$sd/$f"
done
$T "$ctl" "$sp2" slabinfo >/dev/null 2>"$tmp/e5"; st=$?
[ $st -eq 2 ] && grep -q "does not use slabmalloc" "$tmp/e5"
ok $? "a stale segment under a live pid is not taken for a live one: $(cat "$tmp/e5")"
[ ! -e "$sd/999999998" ] && [ ! -e "$sd/$sp2" ]
ok $? "the tools remove stale segments"
kill "$sp2" 2>/dev/null
$T "$ctl" notapid slabinfo >/dev/null 2>&1; [ $? -eq 1 ]; ok $? "a PID that is not a number is a usage error"
kill "$sp" 2>/dev/null

# Another user's process: run the tool as nobody against our own process
# (we are root), or say why not.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$ctl"; then
	mkfifo "$tmp/in2"
	LD_PRELOAD="$SM_LIB" "$target" <"$tmp/in2" >"$tmp/out2" 2>&1 &
	rp=$!
	pids="$pids $rp"
	exec 3<>"$tmp/in2"
	wait_for "$tmp/out2" "^ready 0"
	$T setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" "$rp" slabinfo >/dev/null 2>"$tmp/e4"; st=$?
	[ $st -eq 2 ] && grep -q "permission denied" "$tmp/e4"
	ok $? "another user is refused: $(cat "$tmp/e4")"
	exec 3>&-
else
	skip "another user's process is refused" "needs root, setpriv and a build directory that nobody can read"
fi
done_testing
