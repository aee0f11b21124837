# SPDX-License-Identifier: MIT
# fuzz/fuzz.cmake — libFuzzer targets for the record and policy parsers. The project's compiler
# may be gcc, so each fuzzer is compiled directly with clang (-fsanitize=fuzzer,address,undefined)
# from its target file, the parser it exercises and src/err.c. A ctest fuzz_<name>_smoke runs
# each one briefly over its seed corpus in fuzz/corpus/<name>/; new inputs go to the build tree.
# The smoke runs use a fixed seed and a fixed number of inputs, so that a test run is the same
# on every machine (a faster one does not go further); longer, random fuzzing is done by hand
# (docs/reliability.md).
if(NOT MX_FUZZ)
	return()
endif()
find_program(MX_CLANG NAMES clang clang-14)
if(NOT MX_CLANG)
	message(STATUS "fuzz: clang not found, so the libFuzzer targets are not built")
	return()
endif()

# name → parser source it needs (besides src/err.c)
set(MX_FUZZERS
	mtasts_txt src/mtasts.c
	mtasts_policy src/mtasts.c
	tlsrpt src/tlsrpt.c
	spf src/spf.c)

set(MX_FUZZ_DIR ${CMAKE_BINARY_DIR}/fuzz)
file(MAKE_DIRECTORY ${MX_FUZZ_DIR})
set(MX_FUZZ_BINS)
list(LENGTH MX_FUZZERS n)
math(EXPR last "${n} - 1")
foreach(i RANGE 0 ${last} 2)
	math(EXPR j "${i} + 1")
	list(GET MX_FUZZERS ${i} name)
	list(GET MX_FUZZERS ${j} parser)
	get_filename_component(parser_base ${parser} NAME_WE)
	set(bin ${MX_FUZZ_DIR}/fuzz_${name})
	add_custom_command(OUTPUT ${bin}
		COMMAND ${MX_CLANG} -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined
			-fno-sanitize-recover=undefined -D_GNU_SOURCE -I ${CMAKE_SOURCE_DIR}/src
			${CMAKE_SOURCE_DIR}/fuzz/fuzz_${name}.c ${CMAKE_SOURCE_DIR}/${parser}
			${CMAKE_SOURCE_DIR}/src/txtrec.c ${CMAKE_SOURCE_DIR}/src/err.c -o ${bin}
		DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_${name}.c ${CMAKE_SOURCE_DIR}/${parser}
			${CMAKE_SOURCE_DIR}/src/${parser_base}.h ${CMAKE_SOURCE_DIR}/src/txtrec.c
			${CMAKE_SOURCE_DIR}/src/err.c
			${CMAKE_SOURCE_DIR}/src/err.h
		COMMENT "Building libFuzzer target fuzz_${name} with clang"
		VERBATIM)
	list(APPEND MX_FUZZ_BINS ${bin})
	file(MAKE_DIRECTORY ${MX_FUZZ_DIR}/corpus_${name})
	# The first corpus folder receives new inputs: keep it in the build tree.
	add_test(NAME fuzz_${name}_smoke
		COMMAND ${bin} -seed=1 -runs=20000 -max_total_time=60 -artifact_prefix=${MX_FUZZ_DIR}/
			${MX_FUZZ_DIR}/corpus_${name} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name}
		WORKING_DIRECTORY ${MX_FUZZ_DIR})
	set_tests_properties(fuzz_${name}_smoke PROPERTIES TIMEOUT 120)
endforeach()
add_custom_target(fuzzers ALL DEPENDS ${MX_FUZZ_BINS})

# Targets for parsers that sit inside the core (provider answers, the config file, the
# journal's stored documents, DNS answers) link every core source, compiled once more with
# clang and the fuzzer's instrumentation into one archive. name → the fuzz_<name>.c target.
set(MX_FUZZERS_CORE cloudflare azure gcloud route53 powerdns conf rrset dns_answer)
set(MX_FUZZ_CFLAGS -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined
	-fno-sanitize-recover=undefined -D_GNU_SOURCE "-DMX_VERSION=\"${PROJECT_VERSION}\""
	-I ${CMAKE_SOURCE_DIR}/src -I ${CMAKE_SOURCE_DIR}/providers ${DEPS_CFLAGS})
set(MX_FUZZ_OBJS)
set(MX_FUZZ_CORE_BINS)
foreach(src IN LISTS MX_CORE_SRC)
	file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${src})
	string(REPLACE "/" "_" obj ${rel})
	set(obj ${MX_FUZZ_DIR}/core/${obj}.o)
	add_custom_command(OUTPUT ${obj}
		COMMAND ${CMAKE_COMMAND} -E make_directory ${MX_FUZZ_DIR}/core
		COMMAND ${MX_CLANG} ${MX_FUZZ_CFLAGS} -MD -MF ${obj}.d -c ${src} -o ${obj}
		DEPENDS ${src}
		DEPFILE ${obj}.d
		COMMENT "Compiling ${rel} for the fuzzers"
		VERBATIM)
	list(APPEND MX_FUZZ_OBJS ${obj})
endforeach()
set(MX_FUZZ_CORE ${MX_FUZZ_DIR}/libmxcore_fuzz.a)
add_custom_command(OUTPUT ${MX_FUZZ_CORE}
	COMMAND ${CMAKE_COMMAND} -E rm -f ${MX_FUZZ_CORE}
	COMMAND ${CMAKE_AR} qcs ${MX_FUZZ_CORE} ${MX_FUZZ_OBJS}
	DEPENDS ${MX_FUZZ_OBJS}
	COMMENT "Archiving the core for the fuzzers"
	VERBATIM)
foreach(name IN LISTS MX_FUZZERS_CORE)
	set(bin ${MX_FUZZ_DIR}/fuzz_${name})
	add_custom_command(OUTPUT ${bin}
		COMMAND ${MX_CLANG} ${MX_FUZZ_CFLAGS} -fsanitize=fuzzer
			${CMAKE_SOURCE_DIR}/fuzz/fuzz_${name}.c ${MX_FUZZ_CORE} ${DEPS_LDFLAGS} -lm
			-o ${bin}
		DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_${name}.c ${MX_FUZZ_CORE}
		COMMENT "Building libFuzzer target fuzz_${name} with clang"
		VERBATIM)
	list(APPEND MX_FUZZ_CORE_BINS ${bin})
	file(MAKE_DIRECTORY ${MX_FUZZ_DIR}/corpus_${name})
	# 300 000 inputs, about 3-15 s each here (they run two at a time under ctest -j2).
	add_test(NAME fuzz_${name}_smoke
		COMMAND ${bin} -seed=1 -runs=300000 -max_total_time=60 -rss_limit_mb=1024
			-artifact_prefix=${MX_FUZZ_DIR}/fuzz_${name}-
			${MX_FUZZ_DIR}/corpus_${name} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name}
		WORKING_DIRECTORY ${MX_FUZZ_DIR})
	set_tests_properties(fuzz_${name}_smoke PROPERTIES TIMEOUT 120)
endforeach()
add_custom_target(fuzzers_core ALL DEPENDS ${MX_FUZZ_CORE_BINS})
