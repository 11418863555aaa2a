/**
 * Announcements: one gossip topic per bucket, `/rok/bucket/1/<group>/<name>`, whose
 * messages are the bucket's signed version record blocks. The topic validator rejects
 * (and so stops the relay of) anything that does not decode, does not verify, names
 * another bucket, or — when we follow the bucket — is signed by someone other than the
 * publisher we subscribed to.
 */
import { TopicValidatorResult, type TopicValidatorFn } from '@libp2p/gossipsub'
import { parseBucketName } from '../../protocol/bucket-name.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { TOPIC_PREFIX } from './constants.ts'

export function topicOf (bucket: string): string {
  parseBucketName(bucket)
  return `${TOPIC_PREFIX}${bucket}`
}

/** The bucket of an announcement topic, or undefined for other topics. */
export function bucketOfTopic (topic: string): string | undefined {
  if (!topic.startsWith(TOPIC_PREFIX)) return undefined
  const bucket = topic.slice(TOPIC_PREFIX.length)
  try {
    parseBucketName(bucket)
    return bucket
  } catch {
    return undefined
  }
}

/**
 * A validator for one bucket's topic. `publisherOf` names the publisher this node trusts
 * for the bucket (its own peer ID when it publishes it, the subscribed publisher when it
 * follows it), or undefined when it has no opinion.
 */
export function announcementValidator (bucket: string, publisherOf: (bucket: string) => string | undefined): TopicValidatorFn {
  return async (_peer, message) => {
    if (message.type !== 'signed') return TopicValidatorResult.Reject
    try {
      const { record } = await decodeVersionRecord(message.data)
      if (record.bucket !== bucket) return TopicValidatorResult.Reject
      const publisher = publisherOf(bucket)
      if (publisher !== undefined && record.publisher !== publisher) return TopicValidatorResult.Reject
      return TopicValidatorResult.Accept
    } catch {
      return TopicValidatorResult.Reject
    }
  }
}
