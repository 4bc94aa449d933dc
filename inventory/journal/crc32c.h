#pragma once
// CRC-32C (Castagnoli), the checksum of journal records and snapshots. Uses the SSE4.2 crc32
// instruction when the CPU has it (checked once at start-up), a slicing-by-8 table otherwise; both
// give identical results.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace inventory::crc32c {

// Extends `crc` (the value of a previous call, or 0 to start) with `data`.
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// The portable implementation (exposed so tests compare it with the hardware path).
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace inventory::crc32c
