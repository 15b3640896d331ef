/* The one C source behind every ELF file of the stub world (compiled by
 * build.sh with host gcc; see kilnstub/elves.py for the variants).
 * Reserved sections are filled in the image by kilnstub/elf.py:
 *   .nv_fatbin  the GPU code an nvcc build would embed (KILN_FATBIN builds);
 *   .kiln_info  text an executable prints for --version (build options). */
#include <stdio.h>
#include <string.h>

#ifdef KILN_FATBIN
__attribute__((section(".nv_fatbin"), used, aligned(8)))
const unsigned char kiln_fatbin[4096] = "KILN-FATBIN-RESERVED";
#endif

__attribute__((section(".kiln_info"), used))
const char kiln_info[2048] = "kiln stub-world ELF\n";

#ifdef KILN_EXE
/* Read through a volatile pointer: the section is rewritten after linking, so
 * the compiler must not fold the initial text into the calls below. */
static const char *volatile info = kiln_info;

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      fputs(info, stdout);
      return 0;
    }
  }
  fprintf(stderr, "%s (kiln stub-world binary)\n%s", argv[0], info);
  return 0;
}
#else
const char *kiln_stub_object(void) { return kiln_info; }
#endif
