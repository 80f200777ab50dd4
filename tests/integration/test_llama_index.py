"""A LlamaIndex user puts Knowhere behind their own code: the index opens as LlamaIndex's
`WeaviateVectorStore`, and retrieval with Knowhere's access rule is a LlamaIndex retriever."""

from __future__ import annotations

from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from indexing import (
    PUBLIC_ONLY,
    Audience,
    GroupDirectory,
    KnowhereRetriever,
    audience_filter,
    compose,
    open_vector_store,
)

QUESTION = "What is the salary band for software engineers?"


def test_the_index_opens_as_a_llamaindex_weaviate_vector_store(company_settings):
    embedder = compose.build_embedder(company_settings)
    vector = embedder.embed_query(QUESTION).vector
    with compose.connect_weaviate(company_settings) as client:
        store = open_vector_store(client, company_settings.collection)

        dense = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=3))
        hybrid = store.query(
            VectorStoreQuery(
                query_str=QUESTION,
                query_embedding=vector,
                similarity_top_k=3,
                mode=VectorStoreQueryMode.HYBRID,
                alpha=0.8,
            )
        )
        public = store.query(
            VectorStoreQuery(query_embedding=vector, similarity_top_k=3),
            filters=audience_filter(PUBLIC_ONLY),
        )

    for result in (dense, hybrid):
        top = result.nodes[0]
        assert top.metadata["doc_id"] == "kb:hr/salaries.md"
        assert "85,000" in top.get_content()
        assert len(result.nodes) == len(result.similarities) == 3
    # The vector store applies no access rule of its own; Knowhere's filter can be passed in.
    assert "kb:hr/salaries.md" not in {n.metadata["doc_id"] for n in public.nodes}
    assert all(n.metadata["acl_public"] for n in public.nodes)


def test_knowhere_retrieval_is_a_llamaindex_retriever_that_keeps_the_access_rule(
    company_settings,
):
    groups = GroupDirectory.load(company_settings.groups_file)
    alice = Audience.of([groups.principal("alice@northwind.example")])  # in hr
    with compose.connect_weaviate(company_settings) as client:
        embedder = compose.build_embedder(company_settings)
        retriever = compose.build_retriever(client, company_settings, embedder)

        for_alice = KnowhereRetriever(retriever, alice, top_k=3).retrieve(QUESTION)
        for_everyone = KnowhereRetriever(retriever, PUBLIC_ONLY, top_k=3).retrieve(QUESTION)

    assert for_alice[0].node.metadata["doc_id"] == "kb:hr/salaries.md"
    assert for_alice[0].node.node_id == for_alice[0].node.id_  # the chunk's id in Weaviate
    assert for_alice[0].score is not None and "85,000" in for_alice[0].node.get_content()
    assert "kb:hr/salaries.md" not in {n.node.metadata["doc_id"] for n in for_everyone}
    assert len(for_everyone) == 3
