/** mla4j on Ascend NPUs: FFM bindings to the ACL runtime (io.mla4j.ascend.acl) and the "ascend" backend. */
module io.mla4j.ascend {
    requires transitive io.mla4j;
    exports io.mla4j.ascend;
    exports io.mla4j.ascend.acl;
    provides io.mla4j.spi.MlaBackendProvider with io.mla4j.ascend.AscendBackendProvider;
}
