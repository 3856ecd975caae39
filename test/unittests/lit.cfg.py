# lit configuration that runs the GoogleTest binaries (*Tests) built under test/unittests.
import lit.formats

config.name = "midllama-unit"
config.suffixes = []
config.test_source_root = config.unittests_obj_root
config.test_exec_root = config.unittests_obj_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
