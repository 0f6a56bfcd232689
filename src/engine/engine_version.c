/* What `sockpit --version` says about the libraries: asked of the linked
 * libraries themselves, not the headers the build saw, so a system upgrade
 * shows. */
#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <uv.h>

#include "sockpit/engine/engine.h"
#include "sockpit/proto/buf.h"

void sp_engine_lib_versions(struct sp_buf *out)
{
    sp_buf_appendf(out, "libuv %s, %s, %s", uv_version_string(), OpenSSL_version(OPENSSL_VERSION),
                   pcap_lib_version());
}
