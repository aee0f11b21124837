# SPDX-License-Identifier: MIT
# tests/tests.cmake — registers unit tests (tests/unit_*.c), C end-to-end tests (tests/e2e_*.c)
# and end-to-end scripts (tests/e2e_*.sh). End-to-end tests need the sandbox
# (tests/sandbox/sandbox exec -- ctest ...) and report "skipped" (exit 77) without it.
file(GLOB MX_FAKES_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fakes/*.c)
if(MX_FAKES_SRC)
	add_library(mxfakes STATIC ${MX_FAKES_SRC})
	target_include_directories(mxfakes PUBLIC ${CMAKE_SOURCE_DIR}/tests/fakes ${CMAKE_SOURCE_DIR}/tests)
	target_link_libraries(mxfakes PUBLIC mxcore)
endif()

file(GLOB MX_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit_*.c)
file(GLOB MX_E2E_C_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e_*.c)
foreach(src IN LISTS MX_UNIT_TESTS MX_E2E_C_TESTS)
	get_filename_component(name ${src} NAME_WE)
	add_executable(${name} ${src})
	target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
	target_link_libraries(${name} PRIVATE mxcore)
	if(MX_FAKES_SRC)
		target_link_libraries(${name} PRIVATE mxfakes)
	endif()
	# The wizard's name index has no curses in it: its test builds it alone.
	if(name STREQUAL "unit_nameidx")
		target_sources(${name} PRIVATE ${CMAKE_SOURCE_DIR}/ui/nameidx.c)
		target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/ui)
	endif()
	add_test(NAME ${name} COMMAND ${name})
	set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
		ENVIRONMENT "MXCUTOVER=$<TARGET_FILE:mxcutover>;MX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

file(GLOB MX_E2E_SH_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e_*.sh)
# The scripts' shared library is not a test.
list(REMOVE_ITEM MX_E2E_SH_TESTS ${CMAKE_SOURCE_DIR}/tests/e2e_lib.sh)
foreach(src IN LISTS MX_E2E_SH_TESTS)
	get_filename_component(name ${src} NAME_WE)
	add_test(NAME ${name} COMMAND bash ${src})
	set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
		ENVIRONMENT "MXCUTOVER=$<TARGET_FILE:mxcutover>;MX_SOURCE_DIR=${CMAKE_SOURCE_DIR};MX_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()

# The longest scripts (every step boundary, one run after another) start first and may take
# their time on a loaded machine.
foreach(t e2e_crash e2e_program)
	if(TEST ${t})
		set_tests_properties(${t} PROPERTIES TIMEOUT 1200 COST 1000)
	endif()
endforeach()

# Fault tests (tests/faults/e2e_*.sh: the fault proxy, crash storm, state database), run like
# the end-to-end scripts.
file(GLOB MX_FAULT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/faults/e2e_*.sh)
foreach(src IN LISTS MX_FAULT_TESTS)
	get_filename_component(name ${src} NAME_WE)
	add_test(NAME ${name} COMMAND bash ${src})
	set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
		ENVIRONMENT "MXCUTOVER=$<TARGET_FILE:mxcutover>;MX_SOURCE_DIR=${CMAKE_SOURCE_DIR};MX_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()

# Tests that write the one BIND zone (northwind.test), or expect it as it was, take turns.
foreach(t e2e_providers e2e_run e2e_export e2e_check e2e_plan e2e_faults_rfc2136
		e2e_faults_slow_dns)
	if(TEST ${t})
		set_tests_properties(${t} PROPERTIES RESOURCE_LOCK northwind)
	endif()
endforeach()

# The engine never blocks: every end-to-end test appends the engine's calls that took over
# 20 ms of their own time (wall time less the time spent waiting for a CPU) to one log, and
# engine_budget, run after all of them, fails when the log is not empty. engine_budget_reset
# empties it first. ctest adds both to any selection of these tests (fixtures).
if(MX_ENGINE_BUDGET_CHECK)
	set(MX_BUDGET_LOG ${CMAKE_BINARY_DIR}/engine-budget.log)
	add_test(NAME engine_budget_reset COMMAND ${CMAKE_COMMAND} -E rm -f ${MX_BUDGET_LOG})
	set_tests_properties(engine_budget_reset PROPERTIES FIXTURES_SETUP engine_budget)
	add_test(NAME engine_budget COMMAND bash ${CMAKE_SOURCE_DIR}/tests/engine_budget.sh
		${MX_BUDGET_LOG})
	set_tests_properties(engine_budget PROPERTIES FIXTURES_CLEANUP engine_budget)
	foreach(src IN LISTS MX_E2E_C_TESTS MX_E2E_SH_TESTS MX_FAULT_TESTS)
		get_filename_component(name ${src} NAME_WE)
		get_test_property(${name} ENVIRONMENT env)
		set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED engine_budget
			ENVIRONMENT "${env};MXCUTOVER_ENGINE_BUDGET_LOG=${MX_BUDGET_LOG}")
	endforeach()
endif()
