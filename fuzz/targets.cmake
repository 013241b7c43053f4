# The fuzz targets: one line each.  A target NAME is fuzz/NAME.c defining
# LLVMFuzzerTestOneInput, with its seed corpus in fuzz/corpus/NAME/.
# Both fuzz/CMakeLists.txt (libFuzzer, clang) and fuzz/replay.cmake (corpus
# replay as CTest tests, any compiler) read this list.
set(RV_FUZZ_TARGETS
  fuzz_store_url
  fuzz_sigv4
  fuzz_config
  fuzz_path
  fuzz_format
  fuzz_route53
  fuzz_lease
  fuzz_dbobj
  fuzz_s3_versions
  fuzz_sealed
)
