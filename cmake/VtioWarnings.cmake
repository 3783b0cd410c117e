# Warning set shared by every target of the project.
function(vtio_target_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wstrict-prototypes -Wmissing-prototypes -Wcast-align -Wpointer-arith
    -Wundef -Wwrite-strings -Wvla -Wformat=2 -Wnull-dereference)
  if(VTIO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Test, bench and example programs: same set, minus the conversion noise that
# test arithmetic would drown in.
function(vtio_program_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wvla -Wformat=2)
  if(VTIO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(vtio_target_sanitize target)
  if(VTIO_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=${VTIO_SANITIZE} -fno-omit-frame-pointer
                           -fno-sanitize-recover=all)
    target_link_options(${target} PUBLIC -fsanitize=${VTIO_SANITIZE})
  endif()
endfunction()
