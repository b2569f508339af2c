/* A PKCS#11 shim for tests/it/faults_hsm.rs: forwards everything to the real module named by
 * SHIM_REAL_MODULE, except that the first SHIM_LOSE_SESSIONS calls to C_DecryptInit in a process
 * (default 1; -1 = every call) return CKR_SESSION_HANDLE_INVALID, as a token does when it drops the
 * session mid-command (a reset, another application's C_CloseAllSessions, a USB hiccup).
 * It exports no C_GetInterface, so cryptoki uses the PKCS#11 2.40 function list (68 entries). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long CK_RV;
typedef unsigned long CK_ULONG;
typedef struct { unsigned char major, minor; } CK_VERSION;
typedef struct { CK_VERSION version; void *f[68]; } LIST;

#define DECRYPT_INIT 33 /* C_DecryptInit's index in CK_FUNCTION_LIST */
#define CKR_GENERAL_ERROR 0x5UL
#define CKR_SESSION_HANDLE_INVALID 0xB3UL

static LIST shim;
static LIST *real;
static int lose_left;

typedef CK_RV (*decrypt_init_fn)(CK_ULONG, void *, CK_ULONG);

static CK_RV decrypt_init(CK_ULONG session, void *mech, CK_ULONG key) {
    if (lose_left != 0) {
        if (lose_left > 0)
            lose_left--;
        return CKR_SESSION_HANDLE_INVALID;
    }
    return ((decrypt_init_fn)real->f[DECRYPT_INIT])(session, mech, key);
}

CK_RV C_GetFunctionList(LIST **out) {
    if (!real) {
        const char *path = getenv("SHIM_REAL_MODULE");
        void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        CK_RV (*get)(LIST **) = h ? (CK_RV (*)(LIST **))dlsym(h, "C_GetFunctionList") : NULL;
        if (!get || get(&real) != 0)
            return CKR_GENERAL_ERROR;
        memcpy(&shim, real, sizeof shim);
        shim.f[DECRYPT_INIT] = (void *)decrypt_init;
        const char *n = getenv("SHIM_LOSE_SESSIONS");
        lose_left = n ? atoi(n) : 1;
    }
    *out = &shim;
    return 0;
}
