//! Element buffers, recycled through a per-thread pool.
//!
//! Allocating fresh large buffers every training step costs page faults on every touch (the
//! allocator returns large blocks to the OS on free); keeping them in a pool makes a steady
//! training loop allocation-free after its first step.

use crate::element::Element;
use rustc_hash::FxHashMap;

/// Buffers below this many elements come from the allocator's own fast caches.
const MIN_POOLED: usize = 1024;
/// Upper bound of bytes one thread keeps idle, per element type.
const MAX_POOLED_BYTES: usize = 1 << 30;
/// How many idle buffers of one length are kept.
const MAX_PER_LEN: usize = 16;

/// Idle buffers of one thread, by exact length.
#[derive(Default)]
pub struct Pool<T> {
    free: FxHashMap<usize, Vec<Vec<T>>>,
    bytes: usize,
    disabled: bool,
}

impl<T> Pool<T> {
    pub(crate) fn disabled() -> Self {
        Pool {
            free: FxHashMap::default(),
            bytes: 0,
            disabled: true,
        }
    }

    fn take(&mut self, len: usize) -> Option<Vec<T>> {
        let v = self.free.get_mut(&len)?.pop()?;
        self.bytes -= len * std::mem::size_of::<T>();
        Some(v)
    }

    fn give(&mut self, v: Vec<T>) {
        let len = v.capacity();
        let bytes = len * std::mem::size_of::<T>();
        if self.disabled || self.bytes + bytes > MAX_POOLED_BYTES {
            return;
        }
        let list = self.free.entry(len).or_default();
        // Kept at full length: its (stale) elements stay initialized, so a kernel that
        // overwrites every element can take it without zero-filling first.
        if list.len() < MAX_PER_LEN && v.len() == len {
            list.push(v);
            self.bytes += bytes;
        }
    }
}

/// An empty vector with capacity for exactly `len` elements, reused when possible.
pub(crate) fn buffer<T: Element>(len: usize) -> Vec<T> {
    if len >= MIN_POOLED {
        if let Some(mut v) = T::with_pool(|p| p.take(len)) {
            v.clear();
            return v;
        }
    }
    Vec::with_capacity(len)
}

/// A vector of `len` initialized elements of unspecified value, for kernels that overwrite
/// every element (a reused buffer keeps its stale values; a new one is zeroed by the
/// allocator, lazily for large sizes).
pub(crate) fn buffer_for_overwrite<T: Element>(len: usize) -> Vec<T> {
    if len >= MIN_POOLED {
        if let Some(v) = T::with_pool(|p| p.take(len)) {
            return v;
        }
    }
    vec![T::zero(); len]
}

/// Hands a scratch buffer back to this thread's pool.
pub(crate) fn recycle<T: Element>(v: Vec<T>) {
    drop(Storage::new(v));
}

/// A contiguous row-major buffer owned by one or more tensors.
pub(crate) struct Storage<T: Element> {
    pub(crate) data: Vec<T>,
}

impl<T: Element> Storage<T> {
    pub(crate) fn new(data: Vec<T>) -> Self {
        Storage { data }
    }
}

impl<T: Element> Clone for Storage<T> {
    fn clone(&self) -> Self {
        let mut v = buffer(self.data.len());
        v.extend_from_slice(&self.data);
        Storage { data: v }
    }
}

impl<T: Element> Drop for Storage<T> {
    fn drop(&mut self) {
        if self.data.capacity() >= MIN_POOLED {
            let v = std::mem::take(&mut self.data);
            T::with_pool(|p| p.give(v));
        }
    }
}
