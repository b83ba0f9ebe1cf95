//! Files embedded in the binary, kept out of the pages the daemon touches anyway. The
//! kernel maps file pages 64 KiB at a time around each page fault ("fault-around"), so
//! web UI and terminal assets compiled in among the constants that boot reads became
//! resident without ever being served (320 KiB of the idle RSS). `build.rs` packs each
//! group of files into one blob; [`Isolated`] aligns it to 64 KiB and, since a Rust
//! type's size is a multiple of its alignment, pads it to 64 KiB too, so no other data
//! shares a fault-around window with it: its pages are read only when a file is served.

/// A value alone in its own 64 KiB-aligned, 64 KiB-padded stretch of the binary.
#[repr(C, align(65536))]
pub struct Isolated<T: ?Sized>(pub T);

/// A group of embedded files: one isolated blob and `(name, start, end)` into it.
pub struct Bundle {
    pub blob: &'static Isolated<[u8]>,
    pub index: &'static [(&'static str, usize, usize)],
}

impl Bundle {
    /// The embedded file `name`.
    pub fn get(&self, name: &str) -> Option<&'static [u8]> {
        self.index
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, start, end)| &self.blob.0[start..end])
    }

    /// Every embedded file with its bytes, in name order.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &'static [u8])> + '_ {
        let blob: &'static [u8] = &self.blob.0;
        self.index
            .iter()
            .map(move |&(n, start, end)| (n, &blob[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static BLOB: &Isolated<[u8]> = &Isolated(*b"abcdef");
    static BUNDLE: Bundle = Bundle {
        blob: BLOB,
        index: &[("a", 0, 2), ("b", 2, 6)],
    };

    #[test]
    fn files_are_slices_of_an_aligned_padded_blob() {
        assert_eq!(BUNDLE.get("a"), Some(&b"ab"[..]));
        assert_eq!(BUNDLE.get("b"), Some(&b"cdef"[..]));
        assert_eq!(BUNDLE.get("c"), None);
        assert_eq!(BUNDLE.files().count(), 2);
        assert_eq!(std::ptr::from_ref(BLOB).cast::<u8>() as usize % 65536, 0);
        assert_eq!(std::mem::size_of_val(BLOB) % 65536, 0);
    }
}
