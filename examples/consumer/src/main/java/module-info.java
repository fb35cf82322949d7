/** The consumer as a named module: mla4j's API module is all it needs to compile against. */
module com.example.consumer {
    requires io.mla4j;
}
