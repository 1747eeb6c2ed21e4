#!/bin/sh
# redis-server under LD_PRELOAD on 127.0.0.1, driven by redis-benchmark and
# checked with redis-cli.
. "$top_srcdir/tests/preload/lib.sh"
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
	skip "redis-server under LD_PRELOAD" "redis-server/redis-benchmark not installed"
	done_testing; exit
fi
port=$((20000 + $$ % 20000))
LD_PRELOAD="$SM_LIB" redis-server --bind 127.0.0.1 --port $port --save '' --appendonly no \
	--daemonize no --logfile "$tmp/redis.log" --dir "$tmp" &
pid=$!
up=1
i=0
while [ $i -lt 50 ]; do
	if redis-cli -h 127.0.0.1 -p $port ping 2>/dev/null | grep -q PONG; then up=0; break; fi
	sleep 0.1; i=$((i + 1))
done
ok $up "redis-server starts under LD_PRELOAD"
if [ $up -eq 0 ]; then
	grep -q slabmalloc /proc/$pid/maps; ok $? "redis-server has libslabmalloc mapped"
	timeout 120 redis-benchmark -h 127.0.0.1 -p $port -n 20000 -c 20 -q -t set,get,lpush,lpop,incr,hset -d 256 \
		>"$tmp/bench.out" 2>&1
	ok $? "redis-benchmark completes (20000 requests per test)"
	diag "$(tr '\r' '\n' <"$tmp/bench.out" | grep -E 'requests per second' | head -6 | tr '\n' ';')"
	redis-cli -h 127.0.0.1 -p $port set key "$(head -c 3000 /dev/zero | tr '\0' x)" >/dev/null
	v=$(redis-cli -h 127.0.0.1 -p $port get key | wc -c)
	[ "$v" -eq 3001 ]; ok $? "SET/GET of a 3000-byte value round-trips"
	timeout 120 redis-benchmark -h 127.0.0.1 -p $port -n 100000 -r 1000000 -c 10 -P 16 -q -t set -d 100 \
		>/dev/null 2>&1
	keys=$(redis-cli -h 127.0.0.1 -p $port dbsize)
	[ "$keys" -ge 50000 ]; ok $? "100000 SETs of random keys stored (dbsize $keys)"
	redis-cli -h 127.0.0.1 -p $port flushall >/dev/null
	redis-cli -h 127.0.0.1 -p $port memory purge >/dev/null 2>&1
	redis-cli -h 127.0.0.1 -p $port shutdown nosave >/dev/null 2>&1
fi
wait $pid; st=$?
ok $st "redis-server exits cleanly (status $st)"
done_testing
