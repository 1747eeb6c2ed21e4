# A python3 program that builds a heap of lists of strings, frees nine
# tenths of it and then idles: the resident set at each step, in MiB, on
# one line ("built N freed N idle N"). Run by bench/idle_python under each
# allocator; the objects are ordinary python objects, so what the
# allocator sees is what any python program gives it (pymalloc for small
# objects, malloc for list storage and large strings).
import os
import random
import sys
import time


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return -1


lists = int(sys.argv[1]) if len(sys.argv) > 1 else 400
idle = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
random.seed(1)
objs = []
for i in range(lists):
    objs.append([str(j) * random.randint(1, 40) for j in range(20000)])
built = rss_mib()
keep = objs[::10]
del objs
freed = rss_mib()
time.sleep(idle)
print("built %d freed %d idle %d" % (built, freed, rss_mib()))
sys.stdout.flush()
os._exit(0 if keep else 1)
