//! A global allocator that keeps large blocks for reuse.
//!
//! A search step allocates and frees tensor buffers of a few dozen distinct sizes (1-16 MiB at DARTS's
//! shapes) thousands of times. Through the system allocator each of those is a fresh `mmap`: every
//! page faults and is zeroed by the kernel, which `perf` put at over a quarter of a DARTS step
//! (results/bench/README.md). [`LargeBlockCache`] serves allocations of at least 1 MiB from 2 MiB-aligned
//! mappings advised for transparent huge pages, rounded up to whole 2 MiB, and keeps freed blocks in
//! one free list per rounded size, up to a byte budget; smaller allocations go to the system allocator.
//! This is the CPU counterpart of the caching allocators GPU frameworks use. Linux only; elsewhere
//! every allocation goes to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Granule of cached blocks: one transparent huge page.
const GRANULE: usize = 2 << 20;
/// Smallest allocation served by the cache.
const MIN_CACHED: usize = 1 << 20;
/// Number of size classes (class `k` holds blocks of `k` granules); larger blocks are never kept.
const CLASSES: usize = 1024;

/// Free blocks by size class: the address of the first free block (0 = none); every free block
/// stores the address of the next one in its first word.
struct FreeLists {
    heads: [usize; CLASSES],
    cached_bytes: usize,
}

/// The allocator: install it with `#[global_allocator]` in a binary.
pub struct LargeBlockCache {
    lists: Mutex<FreeLists>,
    /// Budget in bytes, fixed at the first large allocation; [`BUDGET_UNSET`] until then.
    budget_bytes: AtomicUsize,
}

/// Marks a budget still to be read from the environment.
const BUDGET_UNSET: usize = usize::MAX;

/// Environment variable with the budget in MiB (0 turns the cache off).
pub const BUDGET_VAR: &str = "KDNAS_BLOCK_CACHE_MIB";
/// [`BUDGET_VAR`] as a C string, for reading it without allocating.
const BUDGET_VAR_C: &std::ffi::CStr = c"KDNAS_BLOCK_CACHE_MIB";

impl LargeBlockCache {
    /// A cache that keeps at most `budget_bytes` of freed blocks (0: everything goes to the system).
    pub const fn new(budget_bytes: usize) -> Self {
        Self {
            lists: Mutex::new(FreeLists { heads: [0; CLASSES], cached_bytes: 0 }),
            budget_bytes: AtomicUsize::new(budget_bytes),
        }
    }

    /// A cache whose budget comes from `KDNAS_BLOCK_CACHE_MIB` when it holds a whole number, else
    /// [`default_budget_bytes`]; read once, at the first large allocation, without allocating.
    pub const fn from_environment() -> Self {
        Self::new(BUDGET_UNSET)
    }

    /// Bytes currently held in free lists.
    pub fn cached_bytes(&self) -> usize {
        self.lock().cached_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FreeLists> {
        self.lists.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The budget, resolving it from the environment the first time. It never changes afterwards,
    /// so [`Self::serves`] answers the same at allocation and at release.
    fn budget(&self) -> usize {
        let budget = self.budget_bytes.load(Ordering::Relaxed);
        if budget != BUDGET_UNSET {
            return budget;
        }
        let resolved = budget_from_environment().unwrap_or_else(default_budget_bytes);
        match self.budget_bytes.compare_exchange(BUDGET_UNSET, resolved, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => resolved,
            Err(other) => other,
        }
    }

    /// Whether this cache serves `layout` (the same answer at allocation and at release).
    fn serves(&self, layout: Layout) -> bool {
        cfg!(target_os = "linux") && layout.size() >= MIN_CACHED && layout.align() <= GRANULE && self.budget() > 0
    }

    /// A block of `granules * GRANULE` bytes and whether it is known to be zeroed.
    fn take(&self, granules: usize) -> (*mut u8, bool) {
        if granules < CLASSES {
            let mut lists = self.lock();
            let head = lists.heads[granules];
            if head != 0 {
                // SAFETY: `head` is a free block of this class; its first word holds the next address.
                lists.heads[granules] = unsafe { *(head as *const usize) };
                lists.cached_bytes -= granules * GRANULE;
                return (head as *mut u8, false);
            }
        }
        (map_block(granules * GRANULE), true)
    }

    /// Returns a block of `granules * GRANULE` bytes to its free list, or to the system past the budget.
    fn give_back(&self, block: *mut u8, granules: usize) {
        let bytes = granules * GRANULE;
        if granules < CLASSES {
            let mut lists = self.lock();
            if lists.cached_bytes + bytes <= self.budget() {
                // SAFETY: the block is ours, at least one granule long and no longer in use.
                unsafe { *(block as *mut usize) = lists.heads[granules] };
                lists.heads[granules] = block as usize;
                lists.cached_bytes += bytes;
                return;
            }
        }
        unmap_block(block, bytes);
    }
}

/// The default budget: half of the machine's memory, at most 16 GiB (16 GiB when unknown). A DARTS
/// search step at DARTS's shapes frees and reallocates about 8 GiB of activations per step.
pub fn default_budget_bytes() -> usize {
    const CAP: usize = 16 << 30;
    total_memory_bytes().map_or(CAP, |total| (total / 2).min(CAP))
}

/// Physical memory of the machine (`sysconf`, no allocation), if known.
#[cfg(target_os = "linux")]
pub fn total_memory_bytes() -> Option<usize> {
    // SAFETY: sysconf only reads system configuration.
    let (pages, page_size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && page_size > 0).then(|| pages as usize * page_size as usize)
}

#[cfg(not(target_os = "linux"))]
pub fn total_memory_bytes() -> Option<usize> {
    None
}

/// `KDNAS_BLOCK_CACHE_MIB` in bytes when it is set to a whole number (read without allocating).
#[cfg(target_os = "linux")]
fn budget_from_environment() -> Option<usize> {
    // SAFETY: getenv returns null or a NUL-terminated string owned by the environment; it is only read.
    let value = unsafe {
        let raw = libc::getenv(BUDGET_VAR_C.as_ptr());
        if raw.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(raw)
    };
    parse_mib(value.to_bytes())
}

#[cfg(not(target_os = "linux"))]
fn budget_from_environment() -> Option<usize> {
    None
}

/// A whole number of MiB (ASCII digits, surrounding spaces allowed) in bytes.
pub fn parse_mib(text: &[u8]) -> Option<usize> {
    let digits = text.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mib = digits.iter().try_fold(0usize, |acc, d| acc.checked_mul(10)?.checked_add((d - b'0') as usize))?;
    mib.checked_mul(1 << 20)
}

/// Whole granules covering `size` bytes.
fn granules_for(size: usize) -> usize {
    size.div_ceil(GRANULE)
}

/// A fresh zeroed mapping of `bytes` (a multiple of [`GRANULE`]) aligned to [`GRANULE`] and
/// advised for huge pages; null when the system refuses.
#[cfg(target_os = "linux")]
fn map_block(bytes: usize) -> *mut u8 {
    let span = bytes + GRANULE;
    // SAFETY: an anonymous private mapping; the parts outside the aligned block are unmapped at once.
    unsafe {
        let raw = libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if raw == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        let start = raw as usize;
        let aligned = start.next_multiple_of(GRANULE);
        if aligned > start {
            libc::munmap(raw, aligned - start);
        }
        let tail = start + span - (aligned + bytes);
        if tail > 0 {
            libc::munmap((aligned + bytes) as *mut libc::c_void, tail);
        }
        libc::madvise(aligned as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE);
        aligned as *mut u8
    }
}

/// Releases a mapping made by [`map_block`].
#[cfg(target_os = "linux")]
fn unmap_block(block: *mut u8, bytes: usize) {
    // SAFETY: `block` is a live mapping of `bytes` made by `map_block` and no longer in use.
    unsafe { libc::munmap(block as *mut libc::c_void, bytes) };
}

#[cfg(not(target_os = "linux"))]
fn map_block(_bytes: usize) -> *mut u8 {
    unreachable!("the block cache serves nothing outside Linux")
}

#[cfg(not(target_os = "linux"))]
fn unmap_block(_block: *mut u8, _bytes: usize) {
    unreachable!("the block cache serves nothing outside Linux")
}

// SAFETY: blocks are handed out to one owner at a time (free lists under a mutex), are at least as
// large as requested and aligned to 2 MiB, which covers every alignment the cache accepts.
unsafe impl GlobalAlloc for LargeBlockCache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.serves(layout) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.alloc(layout) };
        }
        self.take(granules_for(layout.size())).0
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.serves(layout) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.alloc_zeroed(layout) };
        }
        let (block, zeroed) = self.take(granules_for(layout.size()));
        if !zeroed && !block.is_null() {
            // SAFETY: the block holds at least `layout.size()` bytes.
            unsafe { std::ptr::write_bytes(block, 0, layout.size()) };
        }
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.serves(layout) {
            // SAFETY: `ptr` came from `System` with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        self.give_back(ptr, granules_for(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` is valid for `layout.align()`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (self.serves(layout), self.serves(new_layout)) {
            // SAFETY: forwarded with the caller's guarantees.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) if granules_for(layout.size()) == granules_for(new_size) => ptr,
            _ => {
                // SAFETY: a fresh block for the new layout; the old one is copied then released.
                unsafe {
                    let fresh = self.alloc(new_layout);
                    if !fresh.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    fresh
                }
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn freed_blocks_are_reused_and_zeroed_on_request() {
        let cache = LargeBlockCache::new(64 * MIB);
        let layout = Layout::from_size_align(3 * MIB, 64).unwrap();
        unsafe {
            let a = cache.alloc(layout);
            assert_eq!(a as usize % GRANULE, 0);
            std::ptr::write_bytes(a, 7, layout.size());
            cache.dealloc(a, layout);
            assert_eq!(cache.cached_bytes(), 4 * MIB);
            let b = cache.alloc_zeroed(layout);
            assert_eq!(a, b, "a freed block of the same class is reused");
            assert!(std::slice::from_raw_parts(b, layout.size()).iter().all(|&v| v == 0));
            assert_eq!(cache.cached_bytes(), 0);
            cache.dealloc(b, layout);
        }
    }

    #[test]
    fn small_allocations_and_the_budget_bypass_the_cache() {
        let cache = LargeBlockCache::new(4 * MIB);
        let small = Layout::from_size_align(1000, 8).unwrap();
        let large = Layout::from_size_align(6 * MIB, 8).unwrap();
        unsafe {
            let s = cache.alloc(small);
            cache.dealloc(s, small);
            let l = cache.alloc(large);
            std::ptr::write_bytes(l, 1, large.size());
            cache.dealloc(l, large);
        }
        assert_eq!(cache.cached_bytes(), 0, "neither a small block nor one over the budget is kept");
    }

    #[test]
    fn default_budget_is_at_most_half_the_memory_and_16_gib() {
        let budget = default_budget_bytes();
        assert!(budget > 0 && budget <= 16 << 30);
        if let Some(total) = total_memory_bytes() {
            assert!(budget <= total / 2);
        }
    }

    #[test]
    fn a_zero_budget_leaves_everything_to_the_system() {
        let cache = LargeBlockCache::new(0);
        let layout = Layout::from_size_align(3 * MIB, 8).unwrap();
        assert!(!cache.serves(layout));
        unsafe {
            let b = cache.alloc(layout);
            std::ptr::write_bytes(b, 1, layout.size());
            cache.dealloc(b, layout);
        }
        assert_eq!(cache.cached_bytes(), 0);
    }

    #[test]
    fn budget_values_parse_as_whole_mib() {
        assert_eq!(parse_mib(b" 512 "), Some(512 * MIB));
        assert_eq!(parse_mib(b"0"), Some(0));
        assert_eq!(parse_mib(b"1.5"), None);
        assert_eq!(parse_mib(b""), None);
        assert_eq!(parse_mib(b"99999999999999999999"), None);
        assert_eq!(BUDGET_VAR_C.to_str(), Ok(BUDGET_VAR));
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_the_system_boundary() {
        let cache = LargeBlockCache::new(64 * MIB);
        let small = Layout::from_size_align(4096, 16).unwrap();
        unsafe {
            let p = cache.alloc(small);
            std::ptr::write_bytes(p, 3, small.size());
            let grown = cache.realloc(p, small, 5 * MIB);
            assert_eq!(*grown.add(4095), 3);
            let large = Layout::from_size_align(5 * MIB, 16).unwrap();
            let same = cache.realloc(grown, large, 6 * MIB);
            assert_eq!(same, grown, "growing inside the rounded block keeps the pointer");
            let larger = Layout::from_size_align(6 * MIB, 16).unwrap();
            let moved = cache.realloc(same, larger, 9 * MIB);
            assert_eq!(*moved.add(100), 3);
            let shrunk = cache.realloc(moved, Layout::from_size_align(9 * MIB, 16).unwrap(), 100);
            assert_eq!(*shrunk.add(99), 3);
            cache.dealloc(shrunk, Layout::from_size_align(100, 16).unwrap());
        }
    }
}
