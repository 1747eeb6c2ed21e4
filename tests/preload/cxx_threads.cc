// A C++ program with std::thread, containers and new/delete.
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

int main()
{
	std::mutex m;
	std::map<std::string, std::vector<int>> all;
	std::vector<std::thread> ts;
	for (int t = 0; t < 4; t++)
		ts.emplace_back([t, &m, &all] {
			std::map<std::string, std::vector<int>> mine;
			for (int i = 0; i < 20000; i++) {
				auto p = std::make_unique<std::string>(std::to_string(i * (t + 1)));
				mine[*p].push_back(i);
				int *arr = new int[i % 100 + 1];
				arr[0] = i;
				delete[] arr;
			}
			std::lock_guard<std::mutex> g(m);
			for (auto &kv : mine)
				all[kv.first].insert(all[kv.first].end(), kv.second.begin(), kv.second.end());
		});
	for (auto &t : ts)
		t.join();
	size_t total = 0;
	for (auto &kv : all)
		total += kv.second.size();
	std::printf("%zu keys, %zu values\n", all.size(), total);
	return total == 80000 ? 0 : 1;
}
