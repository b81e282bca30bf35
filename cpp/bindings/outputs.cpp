// outputs.cpp — the arrays the ops return. Big ones come from a small cache of freed blocks,
// matched by exact size: a training loop allocates the same shapes every batch, and a fresh
// multi-MB block from malloc (an mmap) costs a page fault and the OS zeroing each 4 KB page on its
// first touch — the notes' first conv + max-pool forward (two 5.5 MB outputs) took 6.9 ms on one
// thread with fresh blocks and 4.1 ms with reused ones. A block returns to the cache when NumPy
// frees its array; the cache keeps at most kCacheBytes, dropping the least recently freed first.

#include <cstdlib>
#include <deque>
#include <iomanip>
#include <mutex>
#include <new>
#include <sstream>
#include <utility>

#include "checks.h"

namespace fastnn::bind {

namespace {

constexpr size_t kCacheMinBytes = size_t(1) << 18;  // smaller arrays: malloc's heap reuses them anyway
constexpr size_t kCacheBytes = size_t(128) << 20;
constexpr size_t kHeader = 64;  // the block's data size, ahead of the 64-byte aligned data

struct BlockCache {
    std::mutex mu;
    std::deque<std::pair<size_t, void*>> blocks;  // (data bytes, block), least recently freed first
    size_t bytes = 0;
};

// Never destroyed: arrays may outlive the module.
BlockCache& block_cache() {
    static BlockCache* cache = new BlockCache;
    return *cache;
}

void* take_block(size_t bytes) {
    BlockCache& c = block_cache();
    {
        std::lock_guard<std::mutex> lock(c.mu);
        for (auto it = c.blocks.rbegin(); it != c.blocks.rend(); ++it)
            if (it->first == bytes) {
                void* block = it->second;
                c.blocks.erase(std::next(it).base());
                c.bytes -= bytes;
                return block;
            }
    }
    void* block = aligned_big_alloc(kHeader + bytes);
    if (block) *static_cast<size_t*>(block) = bytes;
    return block;  // null when out of memory
}

void give_block(void* block) {
    const size_t bytes = *static_cast<size_t*>(block);
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (bytes > kCacheBytes) {
        std::free(block);
        return;
    }
    c.blocks.emplace_back(bytes, block);
    c.bytes += bytes;
    while (c.bytes > kCacheBytes) {
        c.bytes -= c.blocks.front().first;
        std::free(c.blocks.front().second);
        c.blocks.pop_front();
    }
}

template <class Array>
Array output_array(const std::vector<int64_t>& dims, const char* op, const char* arg) {
    using T = typename Array::value_type;
    const size_t bytes = (size_t)checked_numel(dims, op, arg) * sizeof(T);
    std::vector<py::ssize_t> shape(dims.begin(), dims.end());
    if (bytes < kCacheMinBytes) return Array(shape);
    void* block = take_block(bytes);
    if (!block) {
        std::ostringstream msg;
        msg << op << ": cannot allocate " << arg << " of shape " << shape_str(dims) << " (" << std::fixed
            << std::setprecision(1) << (double)bytes / (1 << 30) << " GiB of " << sizeof(T) * 8 << "-bit values)";
        PyErr_SetString(PyExc_MemoryError, msg.str().c_str());
        throw py::error_already_set();
    }
    py::capsule owner(block, [](void* b) { give_block(b); });
    return Array(shape, reinterpret_cast<T*>(static_cast<char*>(block) + kHeader), owner);
}

}  // namespace

py::array_t<float> new_float_array(const std::vector<int64_t>& dims, const char* op, const char* arg) {
    return output_array<py::array_t<float>>(dims, op, arg);
}

IndexArray new_index_array(const std::vector<int64_t>& dims, const char* op, const char* arg) {
    return output_array<IndexArray>(dims, op, arg);
}

void clear_output_cache() {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& entry : c.blocks) std::free(entry.second);
    c.blocks.clear();
    c.bytes = 0;
}

std::pair<size_t, size_t> output_cache_usage() {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    return {c.blocks.size(), c.bytes};
}

}  // namespace fastnn::bind
