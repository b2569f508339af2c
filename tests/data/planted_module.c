/* A shared object an attacker plants: its constructor runs as soon as it is dlopen'd and writes the
 * file named by MARKER (a -D define). tests/it/tamper_records.rs checks that keep never loads a module
 * named only by the vault file, so the marker must never appear. It exports C_GetFunctionList so
 * that it would pass keep's "is this a PKCS#11 module" check if it were ever loaded. */
#include <stdio.h>

__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) {
        fputs("the planted module ran inside keep\n", f);
        fclose(f);
    }
}

int C_GetFunctionList(void **list) {
    (void)list;
    return 5; /* CKR_GENERAL_ERROR */
}
