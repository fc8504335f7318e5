//! The `readysim` binary: the library's command line (`readysim::cli`, feature `cli`).

/// Counts heap bytes per thread, for `readysim bench`'s memory rows.
#[global_allocator]
static HEAP: readysim::cli::HeapCounter = readysim::cli::HeapCounter;

fn main() -> std::process::ExitCode {
    readysim::cli::main()
}
