//! Keeping a watcher's keys in RAM. A watcher holds the unlocked vault for as long as it runs, so
//! the pages that hold the master key and its subkeys are locked (`mlock`: never written to swap)
//! and left out of core dumps (`MADV_DONTDUMP`, on top of keep's process-wide hardening). The keys
//! themselves are wiped when the vault is dropped (zeroize on drop); the pages are unlocked after.

use crate::error::{Error, Result};

/// Locked page ranges (start, length), unlocked on drop. Hold it only while the keys it covers live,
/// and drop it after them.
#[derive(Debug)]
pub struct Locked {
    ranges: Vec<(usize, usize)>,
}

fn page_size() -> usize {
    // SAFETY: sysconf takes a plain constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Lock the pages under each of `regions`. Fails, locking nothing, when the kernel refuses (a
/// `RLIMIT_MEMLOCK` of 0, say): a watcher does not run with keys that could be swapped out.
pub fn lock(regions: &[&[u8]]) -> Result<Locked> {
    let page = page_size();
    let mut locked = Locked { ranges: Vec::new() };
    for region in regions.iter().filter(|r| !r.is_empty()) {
        let start = region.as_ptr() as usize & !(page - 1);
        let end = (region.as_ptr() as usize + region.len()).div_ceil(page) * page;
        let len = end - start;
        // SAFETY: the range covers pages of a live allocation of this process; mlock and madvise
        // change only how the kernel treats those pages, never their contents.
        let rc = unsafe { libc::mlock(start as *const libc::c_void, len) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            drop(locked);
            return Err(Error::Io {
                context: "cannot lock the watcher's keys into memory (mlock; raise the \
                          memlock limit, `ulimit -l`, to at least 64 KiB)"
                    .into(),
                source: e,
            });
        }
        // SAFETY: as above.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTDUMP) };
        locked.ranges.push((start, len));
    }
    Ok(locked)
}

impl Locked {
    /// How many bytes of pages are locked.
    pub fn bytes(&self) -> usize {
        self.ranges.iter().map(|(_, len)| len).sum()
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        for (start, len) in self.ranges.drain(..) {
            // SAFETY: unlocking pages this process locked; an overlap already unlocked is harmless.
            unsafe { libc::munlock(start as *const libc::c_void, len) };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_pages_are_locked_and_counted_in_vm_lck() {
        let key = Box::new([7u8; 32]);
        let before = vm_lck();
        let locked = super::lock(&[&key[..]]).expect("64 KiB of memlock is the usual minimum");
        assert!(locked.bytes() >= 4096);
        assert!(vm_lck() > before, "VmLck grows while the key is locked");
        drop(locked);
    }

    fn vm_lck() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmLck:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}
